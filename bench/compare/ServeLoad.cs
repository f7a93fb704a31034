using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Edgewise.Compare;

/// <summary>
/// Aggregate decode throughput of <c>edgewise serve</c> under concurrent streaming clients, for each
/// <c>--parallel</c> setting in turn (issue 7: several requests decode together, their single-token steps
/// batched into one pass over the weights). Each setting gets a fresh server process on loopback; every client
/// sends chat requests back to back with a fixed completion budget and reads the usage from the stream's last
/// chunk; the aggregate is completion tokens over the wall time of the window.
/// </summary>
internal static class ServeLoad
{
    public static int Run(CompareArgs a)
    {
        if (a.Has("help") || !a.Has("model"))
        {
            Console.WriteLine("""
                edgewise-compare serve-load --model FILE.gguf --edgewise PATH/TO/edgewise [--parallel 1,4] [--clients 8]
                                            [--requests 2] [--max-tokens 48] [--threads 2] [--port 18080] [--ctx 2048]
                Starts `edgewise serve FILE --parallel P` for each P, runs --clients streaming clients that each send
                --requests chat requests one after another, and prints completion tokens/s over the whole window.
                """);
            return a.Has("help") ? 0 : 2;
        }
        string model = Path.GetFullPath(a.Get("model", ""));
        string cli = Path.GetFullPath(a.Get("edgewise", ""));
        if (!File.Exists(cli)) throw new ArgumentException($"--edgewise: no such file '{cli}'; run scripts/publish.sh first.");
        int clients = a.GetInt("clients", 8), requests = a.GetInt("requests", 2), maxTokens = a.GetInt("max-tokens", 48);
        int threads = a.GetInt("threads", 2), port = a.GetInt("port", 18080), ctx = a.GetInt("ctx", 2048);
        foreach (string p in a.Get("parallel", "1,4").Split(','))
        {
            int parallel = int.Parse(p, CultureInfo.InvariantCulture);
            Window w = MeasureAsync(cli, model, parallel, clients, requests, maxTokens, threads, port, ctx).GetAwaiter().GetResult();
            string line = $"serve --parallel {parallel}: {clients} clients x {requests} requests, {w.Tokens} completion tokens in {w.Seconds:F1} s = " +
                $"{w.Tokens / w.Seconds:F2} tok/s aggregate; {w.Errors} errors; median TTFT {w.MedianTtftMs:F0} ms";
            Console.WriteLine(line);
        }
        return 0;
    }

    private readonly record struct Window(long Tokens, double Seconds, int Errors, double MedianTtftMs);

    private static async Task<Window> MeasureAsync(string cli, string model, int parallel, int clients, int requests, int maxTokens, int threads, int port, int ctx)
    {
        var psi = new ProcessStartInfo(cli)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "serve", model, "--port", port.ToString(CultureInfo.InvariantCulture), "--parallel",
            parallel.ToString(CultureInfo.InvariantCulture), "--queue", (clients * 2).ToString(CultureInfo.InvariantCulture),
            "--threads", threads.ToString(CultureInfo.InvariantCulture), "--ctx", ctx.ToString(CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(arg);
        }
        using Process server = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {cli}.");
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromMinutes(30) };
        try
        {
            await WaitHealthyAsync(http, server);
            using JsonDocument models = JsonDocument.Parse(await http.GetStringAsync(new Uri("/v1/models", UriKind.Relative)));
            string id = models.RootElement.GetProperty("data")[0].GetProperty("id").GetString()!;
            // One short request first so the JIT and the first-touch page faults are not in the window.
            await ChatAsync(http, id, 0, 4);
            var ttfts = new List<double>();
            int errors = 0;
            long tokens = 0;
            var clock = Stopwatch.StartNew();
            var tasks = new Task[clients];
            for (int c = 0; c < clients; c++)
            {
                int client = c;
                tasks[c] = Task.Run(async () =>
                {
                    for (int r = 0; r < requests; r++)
                    {
                        (int n, double ttft, bool ok) = await ChatAsync(http, id, client * 100 + r + 1, maxTokens);
                        lock (ttfts)
                        {
                            tokens += n;
                            if (ok) ttfts.Add(ttft);
                            else errors++;
                        }
                    }
                });
            }
            await Task.WhenAll(tasks);
            double seconds = clock.Elapsed.TotalSeconds;
            ttfts.Sort();
            return new Window(tokens, seconds, errors, ttfts.Count > 0 ? ttfts[ttfts.Count / 2] : double.NaN);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    private static async Task WaitHealthyAsync(HttpClient http, Process server)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(5))
        {
            if (server.HasExited) throw new InvalidOperationException($"edgewise serve exited with code {server.ExitCode} before it was healthy.");
            try
            {
                using HttpResponseMessage r = await http.GetAsync(new Uri("/health", UriKind.Relative));
                if (r.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException e) when (e.InnerException is SocketException)
            {
                // Not listening yet.
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("edgewise serve did not answer /health with 200 within 5 minutes.");
    }

    /// <summary>One streamed chat request; returns its completion tokens (from the usage chunk) and time to first content.</summary>
    private static async Task<(int Tokens, double TtftMs, bool Ok)> ChatAsync(HttpClient http, string model, int seed, int maxTokens)
    {
        string body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = model,
            ["messages"] = new[] { new Dictionary<string, string> { ["role"] = "user", ["content"] = $"Write a short story about lighthouse number {seed}." } },
            ["max_tokens"] = maxTokens,
            ["temperature"] = 1.0,
            ["seed"] = seed,
            ["stream"] = true,
            ["stream_options"] = new Dictionary<string, bool> { ["include_usage"] = true },
        });
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/chat/completions", UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        using HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
        {
            Console.Error.WriteLine($"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            return (0, 0, false);
        }
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double ttft = -1;
        int tokens = 0;
        while (await reader.ReadLineAsync() is string line)
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal)) continue;
            using var chunk = JsonDocument.Parse(line.AsMemory(6));
            if (ttft < 0 && chunk.RootElement.TryGetProperty("choices", out JsonElement choices) && choices.GetArrayLength() > 0) ttft = clock.Elapsed.TotalMilliseconds;
            if (chunk.RootElement.TryGetProperty("usage", out JsonElement usage) && usage.ValueKind == JsonValueKind.Object)
            {
                tokens = usage.GetProperty("completion_tokens").GetInt32();
            }
        }
        return (tokens, ttft, tokens > 0);
    }
}
