using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Edgewise.Core.Threading;
using Edgewise.Engine.Sampling;
using Edgewise.Models;
using Edgewise.Models.Common;

namespace Edgewise.Bench;

/// <summary>
/// <c>decode-passes MODEL [tokens] [prompt] [threads]</c>: where a decode step's time goes, pass by pass. Loads the model
/// as the CLI does (weights mapped, the repack cache of <c>EDGEWISE_HOME</c>), decodes <c>tokens</c> greedy tokens after a
/// <c>prompt</c>-token prompt three times with a <see cref="IPassObserver"/> on the pool, and prints the third: per pass
/// kind (the job, and a matrix's name with layer numbers folded), ms a token, passes a token, the caller's serial work
/// before it ("gap before"), and the time one side waited at its end on the other ("caller wait": the caller done, a
/// worker still busy; "worker tail": the other way round). What the passes and gaps do not cover is the decode loop's
/// own work (an argmax a token here).
/// </summary>
internal static partial class DecodePassesBench
{
    public static void Run(string[] args)
    {
        string path = args[0];
        int tokens = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 64;
        int prompt = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 512;
        int threads = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 2;
        string home = Environment.GetEnvironmentVariable("EDGEWISE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".edgewise");
        using var pool = new WorkerPool(threads);
        using ILanguageModel model = Architectures.Load(path, new ModelLoadOptions
        {
            Pool = pool,
            RepackCacheDirectory = Path.Combine(home, "repacked"),
            WaitForRepackCache = true,
        });
        int vocab = model.Info.VocabularySize;
        using IModelState state = model.CreateState(prompt + tokens + 8);
        var logits = new float[vocab];
        var random = new Random(1);
        var ids = new int[prompt];
        for (int i = 0; i < prompt; i++) ids[i] = i == 0 ? 2 : 1000 + random.Next(Math.Min(vocab, 200_000) - 1000);
        state.Forward(ids, logits);
        var afterPrompt = (float[])logits.Clone();
        var next = new int[1];
        Passes? passes = null;
        double seconds = 0;
        for (int round = 0; round < 3; round++)
        {
            state.Truncate(prompt);
            afterPrompt.CopyTo(logits, 0);
            passes = new Passes();
            pool.Observer = passes;
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < tokens; i++)
            {
                next[0] = ArgMax(logits);
                state.Forward(next, logits);
            }
            seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            pool.Observer = null;
        }
        passes!.Print(seconds, tokens);
    }

    private static int ArgMax(float[] values) => LogitScan.ArgMax(values);

    private sealed partial class Passes : IPassObserver
    {
        private readonly List<PassTiming> _passes = new(1 << 16);

        public void OnPass(in PassTiming pass) => _passes.Add(pass);

        public void Print(double seconds, int tokens)
        {
            var rows = new Dictionary<string, (double Pass, double Gap, double CallerWait, double WorkerTail, int Count)>();
            double perToken = 1e3 / Stopwatch.Frequency / tokens, gaps = 0, idle = 0;
            for (int i = 0; i < _passes.Count; i++)
            {
                PassTiming p = _passes[i];
                string name = p.Label is null ? p.Job.Name : $"{p.Job.Name} {LayerNumber().Replace(p.Label, "#")}";
                double gap = i == 0 ? 0 : (p.Start - _passes[i - 1].End) * perToken;
                double callerWait = (p.End - p.CallerDone) * perToken;
                double workerTail = (p.End - (p.WorkersLastDone == 0 ? p.Start : p.WorkersLastDone)) * perToken;
                rows.TryGetValue(name, out var r);
                rows[name] = (r.Pass + (p.End - p.Start) * perToken, r.Gap + gap, r.CallerWait + callerWait, r.WorkerTail + workerTail, r.Count + 1);
                gaps += gap;
                idle += callerWait + workerTail;
            }
            Console.WriteLine($"{"pass",-44} {"ms/token",9} {"passes",7} {"gap before",11} {"caller wait",12} {"worker tail",12}");
            foreach ((string name, var r) in rows.OrderByDescending(kv => kv.Value.Pass))
            {
                Console.WriteLine($"{name,-44} {r.Pass,9:F3} {r.Count / (double)tokens,7:F1} {r.Gap,11:F3} {r.CallerWait,12:F3} {r.WorkerTail,12:F3}");
            }
            double passTotal = rows.Values.Sum(r => r.Pass);
            Console.WriteLine($"passes {passTotal:F2} + gaps {gaps:F2} ms a token, of {seconds * 1e3 / tokens:F2} ({tokens / seconds:F2} tok/s); " +
                $"idle at pass ends {idle:F2} core-ms a token");
        }

        [GeneratedRegex(@"\d+")]
        private static partial Regex LayerNumber();
    }
}
