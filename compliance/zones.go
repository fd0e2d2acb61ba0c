package compliance

import (
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Zones returns the time zones a recipient with that phone number may be in:
// the zone of the number's country, or of its region where the number tells
// it (an area code), or several where it cannot tell which (a mobile number
// of a country with more than one zone). phone is digits only with the
// country code, as sendq stores it ("6591234567"; a leading "+" is allowed
// too). A phone that tells nothing — empty, not a number, an unknown country
// code, or zones this system's time-zone data lacks — gives fallback alone
// (UTC when fallback is nil).
func Zones(phone string, fallback *time.Location) []*time.Location {
	if fallback == nil {
		fallback = time.UTC
	}
	if phone == "" {
		return []*time.Location{fallback}
	}
	if phone[0] != '+' {
		phone = "+" + phone
	}
	n, err := phonenumbers.Parse(phone, "")
	if err != nil {
		return []*time.Location{fallback}
	}
	names, err := phonenumbers.GetTimezonesForNumber(n)
	if err != nil {
		return []*time.Location{fallback}
	}
	zones := make([]*time.Location, 0, len(names))
	for _, name := range names {
		if z := location(name); z != nil {
			zones = append(zones, z)
		}
	}
	if len(zones) == 0 {
		return []*time.Location{fallback}
	}
	return zones
}

// locations caches time.LoadLocation, which reads the zone's file each time.
var locations sync.Map // name → *time.Location, or nil for a zone that is not there

func location(name string) *time.Location {
	if name == phonenumbers.UNKNOWN_TIMEZONE {
		return nil
	}
	if z, ok := locations.Load(name); ok {
		return z.(*time.Location)
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		z = nil
	}
	locations.Store(name, z)
	return z
}
