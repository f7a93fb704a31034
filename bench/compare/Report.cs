using System.Globalization;
using System.Text;

namespace Edgewise.Compare;

/// <summary>The markdown table: medians per engine, Edgewise/llama.cpp ratios, and the decode roofline.</summary>
internal static class Report
{
    public static string Build(List<MeasureResult> results, List<string> files, int threads, int rounds, double bw1, double bwN, int prompt, int gen)
    {
        var s = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        s.AppendLine(ci, $"Edgewise vs llama.cpp, {threads} threads, {rounds} rounds alternating, medians; prompt {prompt} tokens, decode {gen} tokens, TTFT = process start to the first token of a 16-token prompt, in a fresh process (Edgewise: the published `edgewise bench`, when --edgewise is given).");
        s.AppendLine(ci, $"Read bandwidth (2 GiB, huge pages): {bw1:F1} GB/s on 1 thread, {bwN:F1} GB/s on {threads} (best of 4, before the rounds).");
        double[] around = results.ConvertAll(r => r.AroundGBps).FindAll(b => b > 0).ToArray();
        if (around.Length > 0)
        {
            s.AppendLine(ci, $"Around the runs (median of three {threads}-thread reads between consecutive runs; a run gets the mean of the two beside it): median {Median(around):F1} GB/s, {around.Min():F1} to {around.Max():F1}.");
        }
        s.AppendLine();
        foreach (string file in files)
        {
            string name = Path.GetFileName(file);
            List<MeasureResult> llama = results.FindAll(r => r.Model == name && r.Engine == "llama.cpp");
            long bytesPerToken = Roofline.DecodeBytesPerToken(file, prompt + gen / 2);
            double rooflineTokPerS = bwN * 1e9 / bytesPerToken;
            s.AppendLine(ci, $"### {name}: decode reads {bytesPerToken / 1048576.0:F0} MiB/token; roofline {rooflineTokPerS:F1} tok/s at {bwN:F1} GB/s");
            s.AppendLine();
            s.AppendLine("| engine | PLE | prompt tok/s | decode tok/s | TTFT ms | load ms | peak RSS MiB | in 2 MiB pages MiB | decode GB/s | % roofline | PLE bytes/token |");
            s.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
            var groups = new List<List<MeasureResult>>();
            foreach (string ple in Distinct(results.FindAll(r => r.Model == name && r.Engine == "edgewise")))
            {
                groups.Add(results.FindAll(r => r.Model == name && r.Engine == "edgewise" && r.Ple == ple));
            }
            if (llama.Count > 0) groups.Add(llama);
            foreach (List<MeasureResult> g in groups)
            {
                double decode = Median(g, r => r.DecodeTokPerS);
                s.AppendLine(ci, $"| {g[0].Engine} | {g[0].Ple} | {Median(g, r => r.PrefillTokPerS):F1} | {decode:F2} | {Median(g, r => r.TtftMs):F0} | " +
                    $"{Median(g, r => r.LoadMs):F0} | {Median(g, r => r.PeakRssBytes) / 1048576.0:F0} | {Median(g, r => r.HugePageBytes) / 1048576.0:F0} | {decode * bytesPerToken / 1e9:F1} | " +
                    $"{100 * decode / rooflineTokPerS:F0}% | {Median(g, r => r.PleBytesPerToken):F0} |");
            }
            if (llama.Count > 0)
            {
                foreach (List<MeasureResult> g in groups)
                {
                    if (g == llama) continue;
                    s.AppendLine(ci, $"| **ratio** Edgewise/llama.cpp | {g[0].Ple} | **{Median(g, r => r.PrefillTokPerS) / Median(llama, r => r.PrefillTokPerS):F2}x** | " +
                        $"**{Median(g, r => r.DecodeTokPerS) / Median(llama, r => r.DecodeTokPerS):F2}x** | {Median(g, r => r.TtftMs) / Median(llama, r => r.TtftMs):F2}x | " +
                        $"{Median(g, r => r.LoadMs) / Median(llama, r => r.LoadMs):F2}x | {Median(g, r => r.PeakRssBytes) / Median(llama, r => r.PeakRssBytes):F2}x | | | | |");
                }
            }
            if (llama.Count > 0)
            {
                foreach (List<MeasureResult> g in groups)
                {
                    if (g != llama) s.AppendLine(ci, $"Decode, round by round (Edgewise {g[0].Ple} / llama.cpp; the bandwidth around the Edgewise run): {PairedRatios(g, llama)}.");
                }
            }
            foreach (List<MeasureResult> g in groups)
            {
                if (g[0].AroundGBps > 0) s.AppendLine(ci, $"Decode GB/s as a share of the bandwidth around each run ({g[0].Engine} {g[0].Ple}): {AroundShares(g, bytesPerToken)}.");
            }
            s.AppendLine();
        }
        return s.ToString();
    }

    /// <summary>
    /// Each round's Edgewise decode over the same round's llama.cpp decode (results come in round order), and their
    /// median: the two ran back to back, so a pair shares the VM's state of that minute where the medians may not.
    /// </summary>
    private static string PairedRatios(List<MeasureResult> edgewise, List<MeasureResult> llama)
    {
        int n = Math.Min(edgewise.Count, llama.Count);
        var ratios = new double[n];
        var items = new string[n];
        var ci = CultureInfo.InvariantCulture;
        for (int i = 0; i < n; i++)
        {
            ratios[i] = edgewise[i].DecodeTokPerS / llama[i].DecodeTokPerS;
            items[i] = edgewise[i].AroundGBps > 0 ? string.Create(ci, $"{ratios[i]:F2} ({edgewise[i].AroundGBps:F0} GB/s)") : ratios[i].ToString("F2", ci);
        }
        return string.Create(ci, $"{string.Join(", ", items)}; median {Median(ratios):F2}x");
    }

    /// <summary>
    /// Each run's decode bytes per second over the bandwidth sampled around it, and their median: the roofline of the
    /// moment, where the header's best-of-4 figure may come from a faster second than the runs had.
    /// </summary>
    private static string AroundShares(List<MeasureResult> runs, long bytesPerToken)
    {
        var shares = new double[runs.Count];
        for (int i = 0; i < runs.Count; i++) shares[i] = runs[i].DecodeTokPerS * bytesPerToken / 1e9 / runs[i].AroundGBps;
        var ci = CultureInfo.InvariantCulture;
        string list = string.Join(", ", Array.ConvertAll(shares, x => string.Create(ci, $"{100 * x:F0}%")));
        return string.Create(ci, $"{list}; median {100 * Median(shares):F0}%");
    }

    private static List<string> Distinct(List<MeasureResult> results)
    {
        var modes = new List<string>();
        foreach (MeasureResult r in results) if (!modes.Contains(r.Ple)) modes.Add(r.Ple);
        return modes;
    }

    private static double Median(List<MeasureResult> results, Func<MeasureResult, double> value)
    {
        var values = new double[results.Count];
        for (int i = 0; i < values.Length; i++) values[i] = value(results[i]);
        return Median(values);
    }

    /// <summary>The median of <paramref name="values"/> (sorted in place), NaN when empty.</summary>
    internal static double Median(double[] values)
    {
        Array.Sort(values);
        int n = values.Length;
        return n == 0 ? double.NaN : n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
}
