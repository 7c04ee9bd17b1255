// Package server is the auctioneer daemon around the auction algorithm (package auction); its API
// routes and client are in package auctioneer, which imports nothing of this one:
//
//   - Inbox (inbox.go) collects LRP-start and Task requests. Requests that arrive while an auction
//     runs wait for the next batch; duplicates (same process guid and index, same task guid) are
//     merged.
//   - Runner (runner.go) is an ifrit runner taking one batch at a time: it lists the cells present
//     in Consul (CellLister, cells.go), fetches their states concurrently, each within a per-cell
//     timeout through the rep's client (package rep; a slow or dead cell is skipped, never waited
//     on), places the batch with
//     auction.Place, sends every cell its work concurrently, re-plans rejected work with
//     auction.Replan within the same batch, and reports what could not be placed to the BBS
//     (BBSClient: ActualLRP -> /v1/actual_lrps/fail with the placement error; Task ->
//     /v1/tasks/reject with the reason).
//   - Handler (handler.go) serves the API, POST /v1/lrps and POST /v1/tasks (JSON arrays of
//     models.LRPStartRequest / models.TaskStartRequest): the valid requests of a body are queued
//     and the invalid ones logged and dropped, answering 202, as upstream's auctioneer does.
//   - Metrics (metrics.go): auction duration, batch size, failed placements, cell-state fetch time.
//
// cmd/auctioneer wires these under a Consul leader lock (locket).
package server
