package proxy

import (
	"net/http"

	"github.com/diego-go/diego/router/route"
)

// vcapCookie names the instance a sticky session stays on, gorouter's cookie.
const vcapCookie = "__VCAP_ID__"

// setStickyCookie adds gorouter's __VCAP_ID__ cookie naming e when the backend starts a
// session (sets JSESSIONID), or when a sticky request had to go to another instance than
// its cookie named. The cookie copies the session cookie's Secure, SameSite, Expires and
// Partitioned, and a negative MaxAge, and is HttpOnly with the route's path.
func setStickyCookie(res *http.Response, e *route.Endpoint, sticky, path string) {
	set := sticky != "" && sticky != e.PrivateInstanceID
	if !set && len(res.Header["Set-Cookie"]) == 0 {
		return
	}
	c := http.Cookie{Name: vcapCookie, Value: e.PrivateInstanceID, Path: path, HttpOnly: true}
	cookies := res.Cookies()
	for _, v := range cookies {
		if v.Name == "JSESSIONID" {
			set = true
			if v.MaxAge < 0 {
				c.MaxAge = v.MaxAge
			}
			c.Secure, c.SameSite, c.Expires, c.Partitioned = v.Secure, v.SameSite, v.Expires, v.Partitioned
			break
		}
	}
	for _, v := range cookies {
		if v.Name == vcapCookie {
			// The app manages the cookie itself.
			return
		}
	}
	if set {
		if v := c.String(); v != "" {
			res.Header.Add("Set-Cookie", v)
		}
	}
}
