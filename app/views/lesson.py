"""The lesson, the app's first page: the paper's argument in steps on the shipped runs, one question and one chart
each. The step is in the address bar (?step=4), so a teacher can send a link to it."""

import streamlit as st
from lesson import STEPS, common
from lib import data

KEY, SHOWN = "lesson_step", "_lesson_step_shown"  # the step; what the address bar said when it was last written


def _clamp(value) -> int:
    try:
        return min(max(int(value), 1), len(STEPS))
    except (TypeError, ValueError):
        return 1


def _go(by: int) -> None:
    st.session_state[KEY] = _clamp(st.session_state[KEY] + by)


# A link names its step; a page switch within the session drops the address bar's ?step=, and the step stays.
asked = st.query_params.get("step")
if KEY not in st.session_state or (asked is not None and asked != st.session_state.get(SHOWN)):
    st.session_state[KEY] = _clamp(asked)
step = st.session_state[KEY]
st.query_params["step"] = st.session_state[SHOWN] = str(step)

head, nav = st.columns([3, 2], vertical_alignment="center")
head.title("The lesson")
row = nav.container(horizontal=True, horizontal_alignment="right", vertical_alignment="center")
row.markdown(f"Step **{step}** of {len(STEPS)}")
row.button("Back", icon=":material/arrow_back:", key="lesson_back", on_click=_go, args=(-1,), disabled=step == 1)
row.button("Next", icon=":material/arrow_forward:", key="lesson_next", on_click=_go, args=(1,),
           disabled=step == len(STEPS), type="primary")
data.watch()
panes = common.panes()
with panes.story:
    st.header(f"{step} · {STEPS[step - 1].title}")
    STEPS[step - 1].draw(panes)
