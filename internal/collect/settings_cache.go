package collect

import "net/http"

// settingsCaching sets how the settings object may be cached. With --public-url it is
// the same for every request and shared caches may keep it. When it echoes the request's
// Host (or its scheme), a shared cache must not hand one client's answer to another: a
// request with a forged Host would otherwise poison the cache with an attacker's apiHost
// for every visitor of the shop.
func settingsCaching(hd http.Header, fixedHost, fixedProto bool) {
	if fixedHost && fixedProto {
		hd.Set("Cache-Control", "public, max-age=60")
		return
	}
	hd.Set("Cache-Control", "private, max-age=60")
	if !fixedHost {
		hd.Add("Vary", "Host")
	}
	if !fixedProto {
		hd.Add("Vary", "X-Forwarded-Proto")
	}
}
