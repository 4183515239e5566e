// Command omniroi is the omnichannel ROI platform: event collection, identity resolution,
// attribution, customer value and journeys in one binary. See `omniroi --help`.
package main

import (
	"os"
	_ "time/tzdata" // time zones work on machines without a tz database

	"github.com/omniroi/omniroi/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
