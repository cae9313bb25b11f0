"""pytest --nbval over notebooks/ runs the lessons only: the student versions have unsolved stubs."""

collect_ignore_glob = ["student/*"]
