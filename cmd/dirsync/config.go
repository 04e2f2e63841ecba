package main

import (
	"os"

	"github.com/dirsync/dirsync/internal/config"
)

// Config is the whole config file, as package config loads it.
type Config = config.Config

// readConfig loads and validates the config file named by the flags, the
// process's environment applying, with the flags' log settings over the file's.
func readConfig(g *globalFlags) (Config, error) {
	return config.Load(g.configFile, os.LookupEnv, func(cfg *config.Config) {
		if g.logLevel != "" {
			cfg.Log.Level = g.logLevel
		}
		if g.logFormat != "" {
			cfg.Log.Format = g.logFormat
		}
	})
}
