"""What the real loop (run/) and the simulator (sim/) share: budgets, events, verdict routing,
a finished trial's value. Both drive searchers and schedulers through this one contract."""
