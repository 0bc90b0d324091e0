#!/bin/sh
# prove runs this (perl hands a non-perl #! line to that interpreter):
# the browser client's test in headless Chromium; see run.sh.
exec "$(dirname "$0")/run.sh"
