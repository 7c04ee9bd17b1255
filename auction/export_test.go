package auction

// UseRankTrees switches the rank trees on or off so the specs can compare
// them with the plain scan.
func UseRankTrees(on bool) (restore func()) {
	old := useTrees
	useTrees = on
	return func() { useTrees = old }
}
