# The two commands: `make app` and `make test`. Both create or refresh .venv
# when requirements.txt changed (a stamp named by its hash), so they are
# idempotent and cheap the second time.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
PORT   ?= 8501

.PHONY: app test venv browser clean-venv

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

# Debian's Chromium serves the browser tests and Plotly's PNG/SVG export.
# Installed when we may (root with apt); otherwise those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium (browser tests, figure export)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: browser tests will skip"; \
	  else echo "chromium not found and not root: browser tests will skip"; fi; }

app: venv
	$(BIN)/streamlit run app/streamlit_app.py --server.port $(PORT) --server.headless true \
	  --browser.gatherUsageStats false

test: venv browser
	$(BIN)/python -m pytest

clean-venv:
	rm -rf $(VENV)
