package demo

import (
	"fmt"
	"time"
)

// zone is the bakery's clock. A fixed UTC+1 keeps the generator free of tzdata; the
// hour of day is what matters for realism, not the DST switch.
var zone = time.FixedZone("CET", 3600)

// day is everything the simulation needs to know about one calendar day.
type day struct {
	date        time.Time // local midnight
	dow         time.Weekday
	store       float64 // demand multiplier for the shop (1 = ordinary Thursday)
	web         float64 // demand multiplier for the web store
	cake        float64 // probability multiplier of a cake occasion (birthday, holiday)
	email       string  // email campaign sent this day ("" none)
	emailSubj   string
	sms         string // SMS campaign sent this day
	igPost      bool   // organic Instagram post
	igBoost     bool   // a boosted post runs
	christmas   bool
	easter      bool
	mothers     bool
	closedStore bool
}

// easterSunday is the Gregorian computus (anonymous algorithm).
func easterSunday(y int) time.Time {
	a := y % 19
	b, c := y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	dd := (h+l-7*m+114)%31 + 1
	return time.Date(y, time.Month(month), dd, 0, 0, 0, 0, zone)
}

// mothersDay is the second Sunday of May (NL, DE, US, ...).
func mothersDay(y int) time.Time {
	t := time.Date(y, time.May, 1, 0, 0, 0, 0, zone)
	for t.Weekday() != time.Sunday {
		t = t.AddDate(0, 0, 1)
	}
	return t.AddDate(0, 0, 7)
}

var dowFactor = [7]float64{
	time.Sunday: 0.9, time.Monday: 0.75, time.Tuesday: 0.9, time.Wednesday: 0.95,
	time.Thursday: 1.0, time.Friday: 1.15, time.Saturday: 1.45,
}

func sameDay(a, b time.Time) bool {
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

// buildCalendar lays out the window [start, end) day by day.
func buildCalendar(start, end time.Time) []day {
	var days []day
	for t := start; t.Before(end); t = t.AddDate(0, 0, 1) {
		y, m, dd := t.Date()
		dy := day{date: t, dow: t.Weekday(), store: 1, web: 1, cake: 1}
		season := 1.0
		switch {
		case m == time.January:
			season = 0.85
		case m == time.July || m == time.August:
			season = 0.78 // summer holidays: the neighbourhood is away
		case m == time.December && dd <= 14:
			season = 1.15
		}
		dy.store, dy.web = season, season
		if m == time.December && dd >= 15 && dd <= 24 {
			dy.store, dy.web, dy.cake, dy.christmas = 1.7, 2.4, 2.0, true
		}
		if m == time.December && (dd == 25 || dd == 26) {
			dy.store, dy.web, dy.closedStore = 0, 0.3, true
		}
		if m == time.February && dd == 14 {
			dy.web, dy.cake = 1.4, 1.5
		}
		ea := easterSunday(y)
		if diff := int(ea.Sub(t).Hours() / 24); diff >= 1 && diff <= 3 {
			dy.store, dy.web, dy.cake, dy.easter = 1.5, 1.6, 1.5, true
		} else if diff == 0 {
			dy.store, dy.easter = 0.6, true
		}
		md := mothersDay(y)
		if diff := int(md.Sub(t).Hours() / 24); diff >= 1 && diff <= 5 {
			dy.web, dy.cake, dy.mothers = 2.0, 3.0, true
			dy.store *= 1.3
		} else if diff == 0 {
			dy.store, dy.cake, dy.mothers = 1.5, 2.0, true
		}
		f := dowFactor[dy.dow]
		dy.store *= f
		dy.web *= 0.8 + 0.2*f // the web store cares less about the weekday

		// Messaging calendar.
		if dy.dow == time.Thursday {
			dy.email, dy.emailSubj = "newsletter", fmt.Sprintf("This week at Crumb & Co. (%s)", t.Format("2 Jan"))
		}
		switch {
		case m == time.December && (dd == 1 || dd == 12):
			dy.email, dy.emailSubj = "christmas-preorder", "Pre-order your Christmas stollen and mince pies"
		case sameDay(t, ea.AddDate(0, 0, -6)):
			dy.email, dy.emailSubj = "easter", "Hot cross buns are back"
		case sameDay(t, md.AddDate(0, 0, -7)):
			dy.email, dy.emailSubj = "mothers-day", "A cake for Mum: order by Friday"
		case m == time.June && dd == 20:
			dy.email, dy.emailSubj = "summer-menu", "Our summer menu: iced coffee and fruit tarts"
		}
		switch {
		case dd == 1 || dd == 15:
			dy.sms = "sms-offers"
		case m == time.December && dd == 20:
			dy.sms = "sms-christmas"
		case sameDay(t, md.AddDate(0, 0, -2)):
			dy.sms = "sms-mothers-day"
		}
		switch dy.dow {
		case time.Monday, time.Wednesday, time.Friday, time.Saturday:
			dy.igPost = true
		}
		dy.igBoost = dy.dow == time.Friday || dy.dow == time.Saturday || dy.christmas || dy.mothers || dy.easter
		days = append(days, dy)
	}
	return days
}
