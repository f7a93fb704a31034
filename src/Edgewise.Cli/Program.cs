using System.CommandLine;
using Edgewise.Cli.Commands;

var root = new RootCommand("Edgewise: run Google's Gemma 4 and Gemma 3n models locally.");
// One line per command; each command lives in Commands/<Name>Command.cs.
root.Subcommands.Add(VersionCommand.Create());
root.Subcommands.Add(PullCommand.Create());
root.Subcommands.Add(ListCommand.Create());
root.Subcommands.Add(RmCommand.Create());
root.Subcommands.Add(InspectCommand.Create());
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(DetokenizeCommand.Create());
root.Subcommands.Add(SynthCommand.Create());
root.Subcommands.Add(LogitsCommand.Create());
return await root.Parse(args).InvokeAsync();
