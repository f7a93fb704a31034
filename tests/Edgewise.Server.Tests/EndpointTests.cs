using System.Net;
using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Tests.Support;

namespace Edgewise.Server.Tests;

/// <summary>/v1/models, /v1/completions, /metrics: shapes and values.</summary>
public sealed class EndpointTests
{
    [Fact]
    public async Task Models_ListAndLookupByIdOrAlias()
    {
        await using var server = await TestServer.StartAsync();

        var list = await Wire.JsonAsync(await server.Client.GetAsync("/v1/models"));
        Assert.Equal("list", list.GetProperty("object").GetString());
        var model = list.GetProperty("data").EnumerateArray().Single();
        Assert.Equal("gemma-test", model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        Assert.Equal(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), model.GetProperty("created").GetInt64());
        Assert.Equal("edgewise", model.GetProperty("owned_by").GetString());
        Assert.Equal(4096, model.GetProperty("context_length").GetInt32());

        var byAlias = await Wire.JsonAsync(await server.Client.GetAsync("/v1/models/gemma-test.gguf"));
        Assert.Equal("gemma-test", byAlias.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Completions_RawPrompt_WithEchoLogprobsAndStreaming()
    {
        await using var server = await TestServer.StartAsync();

        var body = await Wire.JsonAsync(await Wire.PostAsync(server.Client, "/v1/completions",
            """{"model":"gemma-test","prompt":"<start_of_turn>user","max_tokens":10,"logprobs":2,"echo":true}"""));
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("<start_of_turn>user and so on.", choice.GetProperty("text").GetString());
        Assert.Equal(4, choice.GetProperty("logprobs").GetProperty("tokens").GetArrayLength());
        Assert.Equal(2, choice.GetProperty("logprobs").GetProperty("top_logprobs")[0].EnumerateObject().Count());
        var request = server.Backend.Requests.Single();
        Assert.Equal("<start_of_turn>user", request.Prompt);
        Assert.Empty(request.Messages);
        Assert.True(request.Echo);

        using var stream = await Wire.PostAsync(server.Client, "/v1/completions",
            """{"model":"gemma-test","prompt":["x"],"stream":true,"stream_options":{"include_usage":true}}""");
        var events = await Wire.SseAsync(stream);
        Assert.Equal("[DONE]", events[^1].Data);
        var chunks = Wire.Parse(events.SkipLast(1).Select(e => e.Data));
        Assert.Equal(" and so on.", string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
        Assert.True(chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32() == 3);
    }

    [Fact]
    public async Task Completions_DefaultsToSixteenTokens()
    {
        await using var server = await TestServer.StartAsync();
        using var response = await Wire.PostAsync(server.Client, "/v1/completions", """{"model":"gemma-test","prompt":"x"}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(16, server.Backend.Requests.Single().MaxTokens);
    }

    [Fact]
    public async Task Metrics_CountRequestsTokensAndBackendGauges()
    {
        await using var server = await TestServer.StartAsync();
        await Wire.PostAsync(server.Client, "/v1/chat/completions", """{"model":"gemma-test","messages":[{"role":"user","content":"a b c"}]}""");
        await Wire.PostAsync(server.Client, "/v1/chat/completions", """{"model":"nope","messages":[{"role":"user","content":"a"}]}""");

        using var response = await server.Client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);
        Assert.Contains("edgewise_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("edgewise_requests_total{route=\"/v1/chat/completions\",status=\"404\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("edgewise_completion_tokens_total 4\n", text, StringComparison.Ordinal);
        Assert.Contains("edgewise_kv_cache_bytes 1048576\n", text, StringComparison.Ordinal);
        Assert.Contains("edgewise_ple_resident_bytes 2097152\n", text, StringComparison.Ordinal);
        Assert.Contains("edgewise_prefix_cache_entries 3\n", text, StringComparison.Ordinal);
        Assert.Contains("edgewise_queue_depth 0\n", text, StringComparison.Ordinal);
        Assert.Contains("edgewise_scripted_requests_total 1\n", text, StringComparison.Ordinal);
        Assert.Matches(@"edgewise_decode_tokens_per_second [1-9]", text);
        // Every sample line is "name{labels} value" with a HELP and TYPE before its family.
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')))
            Assert.Matches(@"^edgewise_[a-z_]+(\{[^}]*\})? -?[0-9.]+(e[+-]?[0-9]+)?$", line);
    }

    [Fact]
    public async Task OversizedChunkedBody_Is413_AndTheServerKeepsServing()
    {
        await using var server = await TestServer.StartAsync(options: new Edgewise.Server.Hosting.ServerOptions { MaxBodyBytes = 4096 });
        var json = $$"""{"model":"gemma-test","messages":[{"role":"user","content":"{{new string('y', 10_000)}}"}]}""";
        // No Content-Length: Kestrel only finds out while reading the chunked body.
        using var content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await server.Client.PostAsync("/v1/chat/completions", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", (await Wire.JsonAsync(response)).GetProperty("error").GetProperty("code").GetString());
        using var ok = await Wire.PostAsync(server.Client, "/v1/chat/completions", """{"model":"gemma-test","messages":[{"role":"user","content":"small"}]}""");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task StreamErrorAfterHeaders_ArrivesInBand()
    {
        await using var server = await TestServer.StartAsync(new FailingBackend());
        using var response = await Wire.PostAsync(server.Client, "/v1/chat/completions", """{"model":"gemma-test","stream":true,"messages":[{"role":"user","content":"a"}]}""");

        var events = await Wire.SseAsync(response);
        Assert.NotEqual("[DONE]", events[^1].Data);
        using var error = JsonDocument.Parse(events[^1].Data);
        Assert.Equal("server_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(0, server.State.Queue.Active);
    }

    /// <summary>Fails mid-stream, after the first token (an engine bug or out-of-memory).</summary>
    private sealed class FailingBackend() : IChatBackend
    {
        private readonly ScriptedBackend _inner = new();

        public IReadOnlyList<ModelDescriptor> Models => _inner.Models;
        public BackendStatus Status => BackendStatus.Ready;
        public BackendStats GetStats() => BackendStats.Empty;

        public async IAsyncEnumerable<GenerationEvent> GenerateAsync(GenerationRequest request, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            yield return new TextDeltaEvent(0, "partial");
            await Task.Yield();
            throw new InvalidOperationException("kernel exploded");
        }
    }
}
