using System.CommandLine;
using Edgewise.Hub;
using Edgewise.Models.Common;

namespace Edgewise.Cli.Commands;

/// <summary>
/// The load options every command that opens a model shares (<c>run</c>, <c>serve</c>, <c>bench</c>, <c>logits</c>):
/// <c>--threads</c>, <c>--ple mmap|resident|stream</c>, <c>--ple-cache 64MB</c>, <c>--weights mmap|hugepages</c>,
/// <c>--repack-cache on|off</c>.
/// Add them with <see cref="AddTo"/>, read them back with <see cref="Read"/>.
/// </summary>
internal sealed class ModelLoadArguments
{
    private readonly Option<int> _threads = new("--threads") { Description = "Threads (the caller included).", DefaultValueFactory = _ => Environment.ProcessorCount };
    private readonly Option<string> _ple = new("--ple")
    {
        Description = "Per-layer embedding table: mmap (read rows from the mapped file), resident (load the table), stream (positioned reads into a bounded cache).",
        DefaultValueFactory = _ => "mmap",
    };
    private readonly Option<string> _pleCache = new("--ple-cache") { Description = "Row cache of --ple stream, e.g. 64MB.", DefaultValueFactory = _ => "64MB" };
    private readonly Option<string> _weights;
    private readonly Option<string> _repackCache = new("--repack-cache")
    {
        Description = "With --weights mmap: keep Q4_0 matrices interleaved in EDGEWISE_HOME/repacked (written once in the background, ~half the model file; mapped on later runs for hugepages-like decode speed with an instant load), or off.",
        DefaultValueFactory = _ => "on",
    };

    /// <param name="defaultWeights">
    /// The <c>--weights</c> default: <c>mmap</c> where the first token should come fast (run, generate, bench),
    /// <c>hugepages</c> where a long-running process decodes for hours (serve): Q4_0 rows are then interleaved eight at a
    /// time, ~1.4x the decode speed here, for a few seconds more load.
    /// </param>
    public ModelLoadArguments(string defaultWeights = "mmap")
    {
        _weights = new Option<string>("--weights")
        {
            Description = "Dense matrices: mmap (views of the file; instant load) or hugepages (copied into huge-page memory at load, Q4_0 rows interleaved; faster decode and prompt, slower start).",
            DefaultValueFactory = _ => defaultWeights,
        };
        _ple.AcceptOnlyFromAmong("mmap", "resident", "stream");
        _weights.AcceptOnlyFromAmong("hugepages", "mmap");
        _repackCache.AcceptOnlyFromAmong("on", "off");
        _pleCache.Validators.Add(result =>
        {
            try
            {
                PerLayerEmbeddingStore.ParseSize(result.GetValueOrDefault<string>());
            }
            catch (FormatException ex)
            {
                result.AddError(ex.Message);
            }
        });
    }

    public void AddTo(Command command)
    {
        command.Options.Add(_threads);
        command.Options.Add(_ple);
        command.Options.Add(_pleCache);
        command.Options.Add(_weights);
        command.Options.Add(_repackCache);
    }

    public ModelLoadOptions Read(ParseResult parse) => new()
    {
        Threads = parse.GetValue(_threads),
        PerLayerEmbeddings = PerLayerEmbeddingStore.ParseMode(parse.GetValue(_ple)!),
        PerLayerEmbeddingCacheBytes = PerLayerEmbeddingStore.ParseSize(parse.GetValue(_pleCache)!),
        Weights = parse.GetValue(_weights) == "mmap" ? WeightPlacement.Mapped : WeightPlacement.HugePages,
        RepackCacheDirectory = parse.GetValue(_repackCache) == "on" ? RepackCacheDirectory : null,
    };

    /// <summary>Where repack caches live: beside the model store, so <c>EDGEWISE_HOME</c> moves both.</summary>
    public static string RepackCacheDirectory => Path.Combine(ModelStoreOptions.DefaultRoot(), "repacked");
}
