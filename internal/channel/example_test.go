package channel_test

import (
	"fmt"

	"github.com/omniroi/omniroi/internal/channel"
)

func ExampleRules_Classify() {
	rules := channel.Default()
	touch := channel.FromSegment([]byte(`{"type":"page","context":{"page":{
		"url":"https://bakery.example/?utm_source=ig&utm_medium=paid_social&utm_campaign=Croissant_Week",
		"referrer":"https://l.instagram.com/"}}}`))
	res := rules.Classify(touch)
	fmt.Println(res.Channel, "|", res.Source, "/", res.Medium, "|", res.Campaign, "|", res.Rule)

	till := channel.Touch{Type: "track", Event: "Order Completed", Hint: "Point of Sale"}
	fmt.Println(rules.Classify(till))
	// Output:
	// Paid Social | instagram / paid_social | croissant_week | paid-social
	// channel=In-store source=store medium=offline campaign=(none) rule=in-store
}

func ExampleParse() {
	rules, err := channel.Parse([]byte(`
append_default_rules: true
rules:
  - name: farmers-market-qr
    channel: Events
    all:
      - {field: query.stall, exists: true}
    set: {source: saturday_market, medium: offline}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rules.Classify(channel.Touch{PageURL: "https://bakery.example/?stall=4"}))
	fmt.Println(rules.Classify(channel.Touch{PageURL: "https://bakery.example/", Referrer: "https://duckduckgo.com/"}))
	// Output:
	// channel=Events source=saturday_market medium=offline campaign=(none) rule=farmers-market-qr
	// channel="Organic Search" source=duckduckgo medium=organic campaign=(none) rule=organic-search
}
