package containerstore

// Exported for the specs of the pure helpers.
var (
	ParseRootFS = parseRootFS
	CPUShares   = cpuShares
	DiskLimit   = diskLimit
	NetworkEnv  = networkEnv
	NetOutRules = netOutRules
	EncodeInfo  = encodeRunInfo
	DecodeInfo  = decodeRunInfo
	Truncated   = truncated
)

type RootFS = rootFS
