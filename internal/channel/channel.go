// Package channel gives every touchpoint a marketing channel and a campaign.
//
// The classification follows Google Analytics 4's default channel group plus
// the offline channels a small business has (In-store, Phone, Direct Mail,
// Events). The rules are data: an embedded YAML file (default_rules.yaml) that
// a user can replace with their own, evaluated in order, first match wins.
// docs/channels.md describes the format.
package channel

import (
	_ "embed"
	"fmt"
	"os"
	"sync"
)

// Channel names. The GA4 names are spelled exactly as GA4 reports them.
const (
	Direct                  = "Direct"
	OrganicSearch           = "Organic Search"
	PaidSearch              = "Paid Search"
	OrganicSocial           = "Organic Social"
	PaidSocial              = "Paid Social"
	Email                   = "Email"
	SMS                     = "SMS"
	MobilePushNotifications = "Mobile Push Notifications"
	Referral                = "Referral"
	Display                 = "Display"
	Affiliates              = "Affiliates"
	PaidVideo               = "Paid Video"
	OrganicVideo            = "Organic Video"
	PaidShopping            = "Paid Shopping"
	OrganicShopping         = "Organic Shopping"
	Audio                   = "Audio"
	CrossNetwork            = "Cross-network"
	PaidOther               = "Paid Other"
	Unassigned              = "Unassigned"
	InStore                 = "In-store"
	Phone                   = "Phone"
	DirectMail              = "Direct Mail"
	Events                  = "Events"
)

// Placeholder values in a Result. omniroi uses one campaign placeholder,
// "(none)", where GA4 varies it by channel ("(direct)", "(organic)",
// "(referral)", "(not set)"): reports group on one value.
const (
	NoCampaign   = "(none)"
	DirectSource = "(direct)"
	NoMedium     = "(none)"
	NotSet       = "(not set)"
)

var channelNames = []string{
	Direct, OrganicSearch, PaidSearch, OrganicSocial, PaidSocial, Email, SMS,
	MobilePushNotifications, Referral, Display, Affiliates, PaidVideo,
	OrganicVideo, PaidShopping, OrganicShopping, Audio, CrossNetwork, PaidOther,
	Unassigned, InStore, Phone, DirectMail, Events,
}

// Channels returns the full ordered list of built-in channel names (GA4, then
// offline). A user rules file may add channels of its own; see Rules.Channels.
func Channels() []string { return append([]string(nil), channelNames...) }

// Touch is what the classifier sees of one event.
type Touch struct {
	Type                                    string // Segment call type: track, page, screen, identify, ...
	Event                                   string // track event name, e.g. "Order Completed", "Email Link Clicked"
	Source, Medium, Campaign, Term, Content string // from Segment context.campaign (name→Campaign); may be empty
	PageURL                                 string // context.page.url; its utm_* fill empty fields above, its click ids imply paid
	Referrer                                string // context.page.referrer (full URL) or context.referrer.url
	Hint                                    string // explicit channel hint set by a till/phone system: "in_store", "phone", ...
	Location                                string // where an order happened: "web", "store", "phone", ...
	OwnHosts                                []string
}

// Result is the channel and campaign of one touch.
type Result struct {
	Channel  string // one of Channels(), or a channel a user rules file defines
	Campaign string // campaign name; NoCampaign when not known
	Source   string // normalised source, e.g. "google", "instagram", "(direct)"
	Medium   string // normalised medium, e.g. "cpc", "organic", "referral", "(none)"
	Rule     string // name of the rule that matched (for "explain this number")
}

//go:embed default_rules.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default rules file, the starting point for
// a user's own rules.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

var (
	defaultOnce  sync.Once
	defaultRules *Rules
)

// Default returns the embedded default rules, parsed once. The embedded file is
// checked by the tests, so a parse failure here is a build defect: Default then
// returns a rule set that classifies everything as Unassigned rather than panic.
func Default() *Rules {
	defaultOnce.Do(func() {
		r, err := parse(defaultYAML, nil)
		if err != nil {
			r = &Rules{parseErr: err}
		}
		defaultRules = r
	})
	return defaultRules
}

// Parse compiles a user rules file. Sections other than rules (sources,
// click_ids, lists) default to the built-in ones when absent.
func Parse(data []byte) (*Rules, error) {
	def := Default()
	if def.parseErr != nil {
		return nil, fmt.Errorf("channel: embedded default rules: %w", def.parseErr)
	}
	return parse(data, def)
}

// LoadFile reads and compiles a rules file.
func LoadFile(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("channel: read rules: %w", err)
	}
	r, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Channels returns the channels the rule set can produce: the built-in list
// followed by any channel names the rules file adds, in rule order.
func (r *Rules) Channels() []string {
	out := Channels()
	seen := make(map[string]bool, len(out))
	for _, c := range out {
		seen[c] = true
	}
	for _, ru := range r.rules {
		if !seen[ru.channel] {
			seen[ru.channel] = true
			out = append(out, ru.channel)
		}
	}
	return out
}

// RuleNames lists the rule names in evaluation order.
func (r *Rules) RuleNames() []string {
	out := make([]string, len(r.rules))
	for i, ru := range r.rules {
		out[i] = ru.name
	}
	return out
}
