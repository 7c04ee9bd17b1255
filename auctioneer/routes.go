package auctioneer

// The auctioneer's API routes (upstream's): both take a JSON array of start requests and answer
// 202 Accepted once the valid ones are queued for the next batch.
const (
	// LRPAuctionsRoute takes []models.LRPStartRequest.
	LRPAuctionsRoute = "/v1/lrps"
	// TaskAuctionsRoute takes []models.TaskStartRequest.
	TaskAuctionsRoute = "/v1/tasks"
)
