package main

import (
	"errors"
	"testing"
)

func TestExitCodes(t *testing.T) {
	if got := codeOf(&exitError{code: exitPending}); got != exitPending {
		t.Errorf("pending: %d", got)
	}
	if got := codeOf(errors.New("x")); got != exitFailure {
		t.Errorf("plain error: %d", got)
	}
}
