using System.CommandLine;
using System.Diagnostics;
using Edgewise.Cli.Commands;
using Edgewise.Engine.Sessions;
using Edgewise.Hub;
using Spectre.Console;

namespace Edgewise.Cli.Infrastructure;

/// <summary>The options every generating command shares, and how they turn into a loaded model.</summary>
internal sealed class ModelOptions
{
    public Argument<string> Model { get; } = new("model") { Description = "A local .gguf file, a safetensors checkpoint directory, or a hub alias/reference (see `edgewise pull`)." };
    public Option<bool> Offline { get; } = new("--offline") { Description = "Never download: resolve MODEL from local files and the local store only." };
    /// <summary><c>--threads</c>, <c>--ple</c>, <c>--ple-cache</c>, <c>--weights</c>, shared with <c>logits</c>.</summary>
    public ModelLoadArguments Load { get; } = new();
    public Option<int?> Context { get; } = new("--ctx") { Description = "Context length in tokens (default: the model's, at most 8192)." };
    public Option<string?> Template { get; } = new("--template") { Description = "A Jinja chat template file to use instead of the model's." };

    public void AddTo(Command command)
    {
        command.Arguments.Add(Model);
        foreach (Option o in new Option[] { Offline, Context, Template }) command.Options.Add(o);
        Load.AddTo(command);
    }

    /// <summary>Resolves and loads the model, with a spinner on a terminal; returns the model and the load time.</summary>
    /// <param name="prepareRepackCache">Build a missing repack cache before loading (not counted as load time), rather than in the background.</param>
    public async Task<(EdgewiseModel Model, TimeSpan LoadTime)> LoadAsync(ParseResult parse, TextWriter log, CancellationToken cancellationToken,
        bool prepareRepackCache = false)
    {
        string path = await ModelResolver.ResolveAsync(parse.GetValue(Model)!, parse.GetValue(Offline), cancellationToken).ConfigureAwait(false);
        Edgewise.Models.Common.ModelLoadOptions placement = Load.Read(parse);
        if (prepareRepackCache && placement.Weights == Edgewise.Models.Common.WeightPlacement.Mapped && placement.RepackCacheDirectory is string repacked)
        {
            RepackCacheStep.Prepare(path, repacked, Math.Max(1, placement.Threads), log);
        }
        var options = new EngineLoadOptions
        {
            Threads = Math.Max(1, placement.Threads),
            Model = placement,
            ChatTemplate = parse.GetValue(Template) is string t ? await File.ReadAllTextAsync(t, cancellationToken).ConfigureAwait(false) : null,
        };
        var clock = Stopwatch.StartNew();
        EdgewiseModel model = Progress.Run($"Loading {Path.GetFileName(path)}", log, () => EdgewiseModel.Load(path, options));
        return (model, clock.Elapsed);
    }
}

/// <summary>Turns what the user typed into a local model path: an existing file or directory, else the hub store.</summary>
internal static class ModelResolver
{
    public static async Task<string> ResolveAsync(string model, bool offline, CancellationToken cancellationToken)
    {
        if (File.Exists(model) || Directory.Exists(model)) return Path.GetFullPath(model);
        if (offline) return await new ModelStore(hub: null).ResolveAsync(model, offline: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        using var hub = new HubClient(HubClientOptions.FromEnvironment());
        var store = new ModelStore(hub);
        try
        {
            return await HubConsole.WithProgressAsync(model, progress => store.ResolveAsync(model, offline: false, progress, cancellationToken)).ConfigureAwait(false);
        }
        catch (HubException ex) when (ex.Kind is HubErrorKind.NetworkLost or HubErrorKind.ServerError or HubErrorKind.InvalidResponse)
        {
            // The hub is out of reach: say what works without it.
            throw new HubException(ex.Kind, ex.Message + Environment.NewLine + OfflineAlternatives, ex);
        }
    }

    public const string OfflineAlternatives =
        "Without the hub: pass a local GGUF file instead of the name (edgewise run ./gemma-4-E2B-it-Q4_0.gguf), " +
        "copy a downloaded model into the store (edgewise list shows where), set HF_ENDPOINT to a reachable mirror, " +
        "or try Edgewise on a synthetic model: edgewise synth --arch gemma4 --shape tiny --out tiny.gguf";
}

/// <summary>A spinner for work that may take over a second, on a terminal; one plain line otherwise.</summary>
internal static class Progress
{
    public static T Run<T>(string what, TextWriter log, Func<T> work)
    {
        if (Console.IsErrorRedirected || Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            var clock = Stopwatch.StartNew();
            T result = work();
            log.WriteLine($"{what}: {clock.Elapsed.TotalSeconds:F1} s");
            return result;
        }
        return AnsiConsole.Status().Spinner(Spinner.Known.Dots).Start(Markup.Escape(what) + "…", _ => work());
    }
}
