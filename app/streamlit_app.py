import streamlit as st

st.set_page_config(page_title="Lottery ticket explorer", page_icon="🎟️", layout="wide")
st.title("Lottery ticket explorer")
st.info("The explorer's pages arrive with the app issue; the engine runs from `python -m lth`.")
