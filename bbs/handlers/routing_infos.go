package handlers

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/diego-go/diego/models"
)

// The models have no DesiredLRPRoutingInfosResponse message yet, so its wire form (upstream's:
// Error error = 1; repeated DesiredLRPRoutingInfo desired_lrp_routing_infos = 2) is written and
// read here by hand.

// EncodeRoutingInfosResponse writes the response of /v1/desired_lrp_routing_infos/list.
func EncodeRoutingInfosResponse(e *models.Error, infos []*models.DesiredLRPRoutingInfo) []byte {
	var b []byte
	if e != nil {
		eb, _ := proto.Marshal(e)
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, eb)
	}
	for _, i := range infos {
		ib, _ := proto.Marshal(i)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, ib)
	}
	return b
}

// DecodeRoutingInfosResponse reads the response of /v1/desired_lrp_routing_infos/list.
func DecodeRoutingInfosResponse(b []byte) ([]*models.DesiredLRPRoutingInfo, *models.Error, error) {
	var infos []*models.DesiredLRPRoutingInfo
	var e *models.Error
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, nil, protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		b = b[n:]
		switch num {
		case 1:
			e = &models.Error{}
			if err := proto.Unmarshal(v, e); err != nil {
				return nil, nil, fmt.Errorf("error field: %w", err)
			}
		case 2:
			i := &models.DesiredLRPRoutingInfo{}
			if err := proto.Unmarshal(v, i); err != nil {
				return nil, nil, fmt.Errorf("routing info: %w", err)
			}
			infos = append(infos, i)
		}
	}
	return infos, e, nil
}
