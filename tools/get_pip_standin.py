"""Offline stand-in for ansible-test's get-pip bootstrap script (its download host is unreachable here).

ansible-test runs `python get-pip.py [pip options] pip==X ...` inside a new virtual environment.
This bootstraps pip with ensurepip (as a subprocess: in-process it resets pip's configuration and
TLS settings) and then installs the requested packages from the package index.
"""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + args)
