package auctioneer

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/diego-go/diego/bbs/auctioneerclient"
)

// Client is the client of the auctioneer's API. There is one implementation,
// bbs/auctioneerclient (the BBS's, which came first); this is an alias so callers can write
// auctioneer.NewClient.
type Client = auctioneerclient.Client

// ClientTimeout bounds one call of a client made by NewClient.
const ClientTimeout = 10 * time.Second

// NewClient makes a client of the auctioneer at url (https:// with tlsConfig from
// tlsconfig.Client for mutual TLS; http:// with nil). Its RequestLRPAuctions and
// RequestTaskAuctions post to /v1/lrps and /v1/tasks.
func NewClient(url string, tlsConfig *tls.Config) *Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsConfig
	return auctioneerclient.New(url, &http.Client{Timeout: ClientTimeout, Transport: t})
}
