"""What-if planning: replay demand through a changed network and compare the outcomes.

scenario.py reads scenario files; world.py holds the network and the order stream;
changes.py the variants' changes; simulate.py the replay; outcomes.py the figures;
report.py the HTML, JSON and CSV; runner.py runs the variants in parallel; command.py is
the `sourcing-engine whatif` command. The API (`POST /v1/whatif`) runs `runner.run` too.
"""
