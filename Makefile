# Set-up and the two everyday jobs.  Everything installs into .venv here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install clean

# The modules compiled whole (smtplogkit/native.py) are rebuilt when their .py files change.
WHOLE := smtplogkit/native.py smtplogkit/sessions.py smtplogkit/formats/_templates.py smtplogkit/formats/base.py \
	smtplogkit/formats/smtplib.py smtplogkit/formats/nodemailer.py

$(VENV)/.installed: pyproject.toml setup.py setup.cfg $(WHOLE) $(wildcard smtplogkit/formats/*.pyx smtplogkit/formats/*.pxd)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebooks,dask,test]'
	# Bytecode, as a wheel install writes it: an editable install never does where PYTHONDONTWRITEBYTECODE is set.
	$(BIN)/python -m compileall -q smtplogkit
	touch $@

install: $(VENV)/.installed

# The main job on the bundled sample data: the incident report.
demo: install
	$(BIN)/smtplogkit report -o out/incident.html

# The whole test suite.
test: install
	$(BIN)/python -m pytest -q

# Also the compiled modules and their generated C, so that the next install builds them anew.
clean:
	rm -rf $(VENV) build dist *.egg-info smtplogkit/*.c smtplogkit/*.so smtplogkit/formats/*.c smtplogkit/formats/*.so
