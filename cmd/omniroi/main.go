// Command omniroi is the omnichannel ROI platform: event collection, identity resolution,
// attribution, customer value and journeys in one binary. See `omniroi --help`.
package main

import (
	"os"

	"github.com/omniroi/omniroi/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
