package main

import (
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/render"
)

// withConfig reads the config named by the flags, builds the process logger
// from its log section, and runs fn with both, flushing the logger after.
func withConfig(g *globalFlags, fn func(cfg Config, log *zap.Logger) error) error {
	cfg, err := readConfig(g)
	if err != nil {
		return err
	}
	log, err := render.NewLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // stderr
	return fn(cfg, log)
}
