package main

import (
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Log field keys used across the command.
const (
	keyComponent = "component"
	keyRun       = "run_id"
	keyMode      = "mode"
	keyOutcome   = "outcome"
	keyDuration  = "duration"
)

// LogConfig is the `log:` section.
type LogConfig struct {
	// Level: debug, info (default), warn, error.
	Level string `mapstructure:"level"`
	// Format: auto (default: console on a terminal, JSON otherwise), json, console.
	Format string `mapstructure:"format"`
}

func (c LogConfig) validate() []string {
	var p []string
	if _, err := zapcore.ParseLevel(c.Level); err != nil {
		p = append(p, fmt.Sprintf("log.level: %q is not one of debug, info, warn, error", c.Level))
	}
	switch c.Format {
	case "auto", "json", "console":
	default:
		p = append(p, fmt.Sprintf("log.format: %q is not one of auto, json, console", c.Format))
	}
	return p
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newLogger builds the process logger, writing to stderr.
func newLogger(c LogConfig) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	format := c.Format
	if format == "" || format == "auto" {
		format = "json"
		if isTerminal(os.Stderr) {
			format = "console"
		}
	}
	var enc zapcore.Encoder
	if format == "console" {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05")
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		ec.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewJSONEncoder(ec)
	}
	// Through terminal: a log line clears a progress line drawn on stderr.
	core := zapcore.NewCore(enc, terminal(os.Stderr), level)
	return zap.New(core), nil
}
