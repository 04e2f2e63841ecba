package app

// Log field keys used across the command.
const (
	keyComponent = "component"
	keyRun       = "run_id"
	keyMode      = "mode"
	keyOutcome   = "outcome"
	keyDuration  = "duration"
)
