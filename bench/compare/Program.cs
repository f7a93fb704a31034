using Edgewise.Compare;

// Parent: `run` synthesizes (cached) models and alternates child measurements.
// Children: `measure` runs one engine on one file in a fresh process and prints one RESULT line;
// `bandwidth` measures the machine's plain read bandwidth; `serve-load` measures `edgewise serve` under concurrent clients.
return args.Length > 0 && args[0] == "measure" ? Measurement.RunChild(CompareArgs.Parse(args[1..]))
    : args.Length > 0 && args[0] == "bandwidth" ? Bandwidth.RunChild(CompareArgs.Parse(args[1..]))
    : args.Length > 0 && args[0] == "serve-load" ? ServeLoad.Run(CompareArgs.Parse(args[1..]))
    : Orchestrator.Run(CompareArgs.Parse(args.Length > 0 && args[0] == "run" ? args[1..] : args));
