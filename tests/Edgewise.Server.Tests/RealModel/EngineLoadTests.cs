using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Tests.Support;
using Xunit.Abstractions;

namespace Edgewise.Server.Tests.RealModel;

/// <summary>
/// Sixteen streaming clients against the real engine for a bounded time, a quarter of them hanging up mid-stream:
/// nothing but 200s and intended 429s, every session back in the pool afterwards, and the aggregate decode rate with
/// one slot and with four (printed, with the scheduler's mean decode batch: four slots share passes over the weights).
/// </summary>
public sealed class EngineLoadTests : IClassFixture<SyntheticGemma4File>
{
    private const int Clients = 16;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(3);

    private readonly SyntheticGemma4File _file;
    private readonly ITestOutputHelper _output;

    public EngineLoadTests(SyntheticGemma4File file, ITestOutputHelper output)
    {
        _file = file;
        _output = output;
    }

    [Fact]
    public async Task SixteenStreamingClients_WithDisconnects_OneSlotAndFour()
    {
        LoadResult one = await RunAsync(parallel: 1);
        LoadResult four = await RunAsync(parallel: 4);
        _output.WriteLine($"parallel 1: {one}");
        _output.WriteLine($"parallel 4: {four}");
        Console.WriteLine($"[adapter load] parallel 1: {one}");
        Console.WriteLine($"[adapter load] parallel 4: {four}");

        foreach (LoadResult r in new[] { one, four })
        {
            Assert.Empty(r.UnexpectedStatuses);
            Assert.True(r.Completed > 0 && r.Tokens > 0, r.ToString());
            Assert.True(r.Disconnected > 0, "some clients must have hung up mid-stream");
        }
        // One slot never batches; four slots' decode steps share passes (observed means 3.4-3.6 on a loaded machine).
        Assert.Equal(1, one.LargestBatch);
        Assert.True(four.MeanBatch > 1.5, four.ToString());
    }

    private async Task<LoadResult> RunAsync(int parallel)
    {
        // A queue shorter than the client count: the overflow is refused with 429 (intended), and retried.
        var (server, backend) = await _file.StartServerAsync(parallel: parallel, queue: 8, context: 512);
        await using (server)
        using (backend)
        {
            var result = new LoadResult();
            var clock = Stopwatch.StartNew();
            var tasks = new Task[Clients];
            for (int c = 0; c < Clients; c++)
            {
                int client = c;
                tasks[c] = Task.Run(() => ClientLoopAsync(server, client, clock, result));
            }
            await Task.WhenAll(tasks);
            TimeSpan elapsed = clock.Elapsed;
            result.Seconds = elapsed.TotalSeconds;

            Assert.True(await TestServer.EventuallyAsync(() => backend.GetStats().ActiveSessions == 0, 5000),
                $"sessions leaked: {backend.GetStats()}");
            BackendStats stats = backend.GetStats();
            Assert.True(stats.PrefixCacheEntries <= Math.Max(4, parallel), stats.ToString());
            result.PrefixHits = stats.PrefixCacheHitTokens;
            // Per-session engine speed (decode time summed over sessions), beside the client-side aggregate.
            string metrics = await server.Client.GetStringAsync("/metrics");
            result.EngineDecodeRate = MetricValue(metrics, "edgewise_decode_tokens_per_second");
            result.EnginePrefillRate = MetricValue(metrics, "edgewise_prefill_tokens_per_second");
            result.MeanBatch = MetricValue(metrics, "edgewise_decode_steps_total") / MetricValue(metrics, "edgewise_decode_passes_total");
            result.LargestBatch = MetricValue(metrics, "edgewise_decode_batch_largest");

            // The pool is still consistent: a plain request after the storm works.
            using HttpResponseMessage after = await Wire.PostAsync(server.Client, "/v1/chat/completions",
                """{"model":"tiny-gemma4","messages":[{"role":"user","content":"still there?"}],"max_tokens":4,"seed":1}""");
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
            return result;
        }
    }

    private static double MetricValue(string metrics, string name)
    {
        foreach (string line in metrics.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                return double.Parse(line.AsSpan(name.Length + 1), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return double.NaN;
    }

    private static async Task ClientLoopAsync(TestServer server, int client, Stopwatch clock, LoadResult result)
    {
        bool hangsUp = client % 4 == 0;
        int request = 0;
        while (clock.Elapsed < Duration)
        {
            request++;
            string body = JsonSerializer.Serialize(new
            {
                model = "tiny-gemma4",
                stream = true,
                stream_options = new { include_usage = true },
                max_tokens = 24,
                seed = client * 1000 + request,
                messages = new object[]
                {
                    new { role = "system", content = "You are a terse assistant for load testing." },
                    new { role = "user", content = $"client {client} request {request}: say something" },
                },
            });
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            using var message = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            using HttpResponseMessage response = await server.Client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Interlocked.Increment(ref result.Rejected);
                await Task.Delay(20);
                continue;
            }
            if (response.StatusCode != HttpStatusCode.OK)
            {
                string text = await response.Content.ReadAsStringAsync();
                lock (result.UnexpectedStatuses) result.UnexpectedStatuses.Add($"{(int)response.StatusCode}: {text}");
                continue;
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
            int deltas = 0;
            bool done = false;
            while (await reader.ReadLineAsync(cts.Token) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                string data = line[6..];
                if (data == "[DONE]")
                {
                    done = true;
                    break;
                }
                using JsonDocument chunk = JsonDocument.Parse(data);
                if (chunk.RootElement.TryGetProperty("error", out _))
                {
                    lock (result.UnexpectedStatuses) result.UnexpectedStatuses.Add("in-band error: " + data);
                    break;
                }
                if (chunk.RootElement.TryGetProperty("usage", out JsonElement usage) && usage.ValueKind == JsonValueKind.Object)
                {
                    Interlocked.Add(ref result.Tokens, usage.GetProperty("completion_tokens").GetInt32());
                }
                else if (chunk.RootElement.GetProperty("choices").GetArrayLength() > 0)
                {
                    deltas++;
                }
                if (hangsUp && deltas == 3)
                {
                    // Hang up mid-stream, as a killed agent would: the server must cancel and release the session.
                    Interlocked.Increment(ref result.Disconnected);
                    Interlocked.Add(ref result.Tokens, deltas);
                    break;
                }
            }
            if (done) Interlocked.Increment(ref result.Completed);
        }
    }

    private sealed class LoadResult
    {
        public int Completed;
        public int Disconnected;
        public int Rejected;
        public long Tokens;
        public long PrefixHits;
        public double Seconds;
        public double EngineDecodeRate;
        public double EnginePrefillRate;
        public double MeanBatch;
        public double LargestBatch;
        public List<string> UnexpectedStatuses { get; } = [];

        public override string ToString() =>
            $"{Tokens} tokens in {Seconds:F1} s = {Tokens / Math.Max(Seconds, 1e-9):F0} tokens/s aggregate; {Completed} completed, " +
            $"{Disconnected} hung up, {Rejected} refused with 429, prefix-cache hit tokens {PrefixHits}; " +
            $"engine per-session decode {EngineDecodeRate:F0} tokens/s, prefill {EnginePrefillRate:F0} tokens/s; decode batch mean {MeanBatch:F2}, largest {LargestBatch}" +
            (UnexpectedStatuses.Count > 0 ? "; unexpected: " + string.Join(" | ", UnexpectedStatuses.Take(3)) : "");
    }
}
