#!/usr/bin/env python3
"""jobdrop(1) in troff, made from the commands' own help: `jobdrop --help` and `jobdrop help COMMAND`.

    make-manpage.py BINARY VERSION > jobdrop.1
"""
import re
import subprocess
import sys

binary, version = sys.argv[1], sys.argv[2]


def help_text(*arguments):
    result = subprocess.run([binary, *arguments], capture_output=True, text=True)
    return result.stdout or result.stderr


def escape(line):
    line = line.replace("\\", "\\e")
    return ("\\&" + line) if line.startswith((".", "'")) else line


top = help_text("--help")
commands = re.findall(r"^\s{2}([a-z][a-z-]+)\s{2,}", top.split("SUBCOMMANDS:")[-1], re.M)
print(f'.TH JOBDROP 1 "" "jobdrop {version}" "User Commands"')
print(".SH NAME")
print("jobdrop \\- turn export requests dropped into an inbox into files and job documents in an outbox")
print(".SH SYNOPSIS")
print(".B jobdrop")
print("\\fICOMMAND\\fR [\\fIOPTIONS\\fR]")
print(".SH DESCRIPTION")
print(".nf")
for line in top.splitlines():
    print(escape(line))
print(".fi")
for command in commands:
    if command == "help":
        continue
    print(f".SH {command.upper()}")
    print(".nf")
    for line in help_text("help", command).splitlines():
        print(escape(line))
    print(".fi")
print(".SH SEE ALSO")
print("The README and docs/ of the jobdrop source; /usr/share/jobdrop/nginx.conf.")
