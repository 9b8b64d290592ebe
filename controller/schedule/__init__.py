"""Schedule: pure time logic. Train departures and milestones, blackout-window evaluation,
and the validator's time-dependent checks. Everything takes `now` as an argument; nothing
here reads a clock, a file or the network."""
