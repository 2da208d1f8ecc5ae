package api

import (
	"github.com/statgate/statgate/engine"
	"github.com/statgate/statgate/engine/tokens"
)

// The real engine and token store are what New is given in production.
var (
	_ Engine        = (*engine.Engine)(nil)
	_ Authenticator = (*tokens.Store)(nil)
)
