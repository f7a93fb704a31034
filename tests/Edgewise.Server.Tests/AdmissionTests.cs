using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Edgewise.Server.Hosting;
using Edgewise.Server.Tests.Support;

namespace Edgewise.Server.Tests;

/// <summary>The bounded queue, 429s, client disconnects, and throughput under concurrent streaming clients.</summary>
public sealed class AdmissionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Body = """{"model":"gemma-test","stream":true,"messages":[{"role":"user","content":"go"}]}""";

    [Fact]
    public async Task FullQueue_Answers429WithRetryAfter_AndQueuedRequestsRunInOrder()
    {
        var backend = new ScriptedBackend(tokenDelay: TimeSpan.FromMilliseconds(20)) { FixedAnswerWords = 10 };
        await using var server = await TestServer.StartAsync(backend, new ServerOptions { Parallel = 1, QueueLength = 1, RetryAfterSeconds = 2 });

        var running = Wire.PostAsync(server.Client, "/v1/chat/completions", """{"model":"gemma-test","messages":[{"role":"user","content":"first"}]}""");
        Assert.True(await TestServer.EventuallyAsync(() => server.State.Queue.Active == 1));
        var queued = Wire.PostAsync(server.Client, "/v1/chat/completions", """{"model":"gemma-test","messages":[{"role":"user","content":"second"}]}""");
        Assert.True(await TestServer.EventuallyAsync(() => server.State.Queue.Waiting == 1));

        using var rejected = await Wire.PostAsync(server.Client, "/v1/chat/completions", """{"model":"gemma-test","messages":[{"role":"user","content":"third"}]}""");

        Assert.Equal(HttpStatusCode.TooManyRequests, rejected.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), rejected.Headers.RetryAfter?.Delta);
        var error = (await Wire.JsonAsync(rejected)).GetProperty("error");
        Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
        Assert.Equal("queue_full", error.GetProperty("code").GetString());

        using var first = await running;
        using var second = await queued;
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(["first", "second"], server.Backend.Requests.Select(r => r.Messages[0].Text));
        Assert.Contains("edgewise_rejected_requests_total 1", await server.Client.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientDisconnect_CancelsTheGenerationWithinOneToken()
    {
        var backend = new ScriptedBackend(tokenDelay: TimeSpan.FromMilliseconds(20)) { FixedAnswerWords = 1000 };
        await using var server = await TestServer.StartAsync(backend);

        using (var cts = new CancellationTokenSource())
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Body, System.Text.Encoding.UTF8, "application/json") };
            using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
            var received = 0;
            while (received < 3 && await reader.ReadLineAsync(cts.Token) is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                    received++;
            }

            Assert.Equal(1, backend.ActiveSessions);
            await cts.CancelAsync();
        }

        var clock = Stopwatch.StartNew();
        Assert.True(await TestServer.EventuallyAsync(() => backend.CancelledSessions == 1 && backend.ActiveSessions == 0, 2000),
            $"cancelled {backend.CancelledSessions}, active {backend.ActiveSessions}");
        // One token takes 20 ms; allow scheduling slack on a loaded two-core machine.
        output.WriteLine($"backend saw the cancellation {clock.ElapsedMilliseconds} ms after the client closed");
        Assert.True(clock.ElapsedMilliseconds < 1000, $"cancellation took {clock.ElapsedMilliseconds} ms");
        Assert.Equal(0, backend.TokensAfterCancel);
        Assert.True(await TestServer.EventuallyAsync(() => server.State.Queue.Active == 0));
        Assert.Equal(1, server.State.Metrics.Disconnects);
    }

    [Fact]
    public async Task QueuedClientThatDisconnects_LeavesTheQueue()
    {
        var backend = new ScriptedBackend(tokenDelay: TimeSpan.FromMilliseconds(20)) { FixedAnswerWords = 20 };
        await using var server = await TestServer.StartAsync(backend, new ServerOptions { Parallel = 1, QueueLength = 4 });
        var running = Wire.PostAsync(server.Client, "/v1/chat/completions", """{"model":"gemma-test","messages":[{"role":"user","content":"a"}]}""");
        Assert.True(await TestServer.EventuallyAsync(() => server.State.Queue.Active == 1));

        using (var cts = new CancellationTokenSource())
        {
            var waiting = server.Client.PostAsync("/v1/chat/completions", new StringContent(Body, System.Text.Encoding.UTF8, "application/json"), cts.Token);
            Assert.True(await TestServer.EventuallyAsync(() => server.State.Queue.Waiting == 1));
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        }

        Assert.True(await TestServer.EventuallyAsync(() => server.State.Queue.Waiting == 0));
        using var done = await running;
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        Assert.Single(backend.Requests);
    }

    [Fact]
    public async Task LoadTest_SixteenStreamingClients_ParallelFourOutrunsParallelOne()
    {
        var one = await RunLoadAsync(parallel: 1);
        var four = await RunLoadAsync(parallel: 4);

        output.WriteLine($"parallel 1: {one}");
        output.WriteLine($"parallel 4: {four}");
        Assert.True(four.TokensPerSecond > 2 * one.TokensPerSecond,
            $"parallel 4: {four.TokensPerSecond:F0} tok/s, parallel 1: {one.TokensPerSecond:F0} tok/s");
    }

    private sealed record LoadResult(double TokensPerSecond, int Completed, int Rejected, int Disconnected);

    /// <summary>
    /// 16 clients stream for a fixed window; every fourth drops its connection after a few chunks.
    /// Only 200s and the intended 429s may come back, and every session must be released at the end.
    /// </summary>
    private static async Task<LoadResult> RunLoadAsync(int parallel)
    {
        var backend = new ScriptedBackend(tokenDelay: TimeSpan.FromMilliseconds(10)) { FixedAnswerWords = 12 };
        await using var server = await TestServer.StartAsync(backend, new ServerOptions { Parallel = parallel, QueueLength = 6 });
        var window = TimeSpan.FromMilliseconds(1500);
        var clock = Stopwatch.StartNew();
        long tokens = 0;
        int completed = 0, rejected = 0, disconnected = 0;
        var unexpected = new System.Collections.Concurrent.ConcurrentBag<string>();

        async Task ClientAsync(int client)
        {
            var round = 0;
            while (clock.Elapsed < window)
            {
                round++;
                var dropAfter = client % 4 == 3 && round % 2 == 1 ? 3 : int.MaxValue;
                using var cts = new CancellationTokenSource();
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Body, System.Text.Encoding.UTF8, "application/json") };
                    using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
                    if (response.StatusCode == HttpStatusCode.TooManyRequests)
                    {
                        Interlocked.Increment(ref rejected);
                        await Task.Delay(20);
                        continue;
                    }

                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        unexpected.Add($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                        continue;
                    }

                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
                    var chunks = 0;
                    while (await reader.ReadLineAsync(cts.Token) is { } line)
                    {
                        if (!line.StartsWith("data: ", StringComparison.Ordinal))
                            continue;
                        if (line == "data: [DONE]")
                        {
                            Interlocked.Increment(ref completed);
                            break;
                        }

                        using var chunk = JsonDocument.Parse(line[6..]);
                        if (chunk.RootElement.TryGetProperty("error", out var error))
                            unexpected.Add(error.GetRawText());
                        else if (chunk.RootElement.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var content) && content.GetString()!.Length > 0)
                            Interlocked.Increment(ref tokens);
                        if (++chunks == dropAfter)
                        {
                            Interlocked.Increment(ref disconnected);
                            await cts.CancelAsync();
                            break;
                        }
                    }
                }
                catch (OperationCanceledException) when (cts.IsCancellationRequested)
                {
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 16).Select(ClientAsync));
        var elapsed = clock.Elapsed.TotalSeconds;

        Assert.Empty(unexpected);
        Assert.True(completed > 0);
        Assert.True(disconnected > 0);
        Assert.True(await TestServer.EventuallyAsync(() => backend.ActiveSessions == 0 && server.State.Queue.Active == 0 && server.State.Queue.Waiting == 0),
            $"leaked: backend sessions {backend.ActiveSessions}, slots {server.State.Queue.Active}, waiting {server.State.Queue.Waiting}");
        return new LoadResult(tokens / elapsed, completed, rejected, disconnected);
    }
}
