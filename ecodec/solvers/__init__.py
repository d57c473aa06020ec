"""Solver access: HiGHS for LP/MILP (and later compiled subproblems and QPs), Ipopt through cyipopt for NLPs."""
