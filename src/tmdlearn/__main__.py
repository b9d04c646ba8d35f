"""`python -m tmdlearn`: the same command as `tmdlearn`."""
from tmdlearn.cli import main

main()
