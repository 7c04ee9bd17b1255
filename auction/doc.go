// Package auction decides where Diego runs work. It is pure and
// deterministic: no I/O, no goroutines, no clock. Given a snapshot of cell
// states and a batch of LRP-start and Task requests it returns, per cell, the
// work to submit, and the placements it could not make with a reason.
//
// The decision is a pipeline of small steps, in the manner of Nomad's
// scheduler:
//
//   - order (order.go): the batch order — LRP index 0 first, then Tasks,
//     then the remaining LRP instances; larger memory first inside each.
//   - feasibility (feasible.go): which cells may take the work at all —
//     rootfs provider, volume drivers, placement tags (required and optional,
//     both ways). Computed once per distinct constraint and cached.
//   - fit and rank (rank.go): among feasible cells, those with the memory,
//     disk and a container slot left; each scored as the mean of the memory,
//     disk and container fractions in use after tentatively placing the
//     work, + StartingContainerWeight x containers starting, + 1000 x
//     instances of the same process on the cell, + BinPackFirstFitWeight x
//     the cell's index.
//   - select (select.go): the lowest score, visiting zones from the one
//     holding the fewest instances of the process, so instances spread
//     across zones; then reserve the resources so the next decision sees
//     them. Work whose score on a cell depends on that cell alone (tasks,
//     and instances of a process with no instance anywhere yet) is selected
//     through rank trees (tree.go) in O(log cells) with the same result as
//     the scan.
//
// Work a cell rejects at submission is handed back to Replan, which frees
// the reservation, never offers that work to that cell again, and places it
// on the next best cell against the updated snapshot.
package auction
