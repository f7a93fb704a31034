using System.Net;
using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Edgewise.Server.Tests.Support;

namespace Edgewise.Server.Tests;

/// <summary>SSE comments keep a stream's connection busy while its prompt is prefilled or it waits for a slot.</summary>
public sealed class KeepAliveTests
{
    private static readonly ServerOptions Fast = new() { KeepAliveInterval = TimeSpan.FromMilliseconds(100) };

    private const string StreamedChat = """{"model":"gemma-test","stream":true,"messages":[{"role":"user","content":"hello there"}]}""";

    private static async Task<string[]> LinesAsync(HttpResponseMessage response) =>
        (await response.Content.ReadAsStringAsync()).Split('\n');

    [Fact]
    public async Task SlowPrefill_SendsCommentsBeforeTheFirstChunk_ThenTheUsualStream()
    {
        var backend = new ScriptedBackend { PrefillDelay = TimeSpan.FromMilliseconds(550) };
        await using var server = await TestServer.StartAsync(backend, Fast);

        using HttpResponseMessage response = await Wire.PostAsync(server.Client, "/v1/chat/completions", StreamedChat);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        string[] lines = await LinesAsync(response);
        int firstData = Array.FindIndex(lines, l => l.StartsWith("data: ", StringComparison.Ordinal));
        int comments = lines.Take(firstData).Count(l => l == ": keep-alive");
        Assert.InRange(comments, 2, 7);
        Assert.DoesNotContain(": keep-alive", lines.Skip(firstData));
        Assert.Equal("data: [DONE]", lines.Last(l => l.Length > 0));
        string text = string.Concat(Wire.Parse(lines.Where(l => l.StartsWith("data: {", StringComparison.Ordinal)).Select(l => l[6..]))
            .SelectMany(c => c.GetProperty("choices").EnumerateArray())
            .Select(c => c.GetProperty("delta").TryGetProperty("content", out JsonElement t) ? t.GetString() : ""));
        Assert.Contains("hello", text, StringComparison.Ordinal);

        // Not streamed: nothing but the JSON body, however long the wait.
        using HttpResponseMessage plain = await Wire.PostAsync(server.Client, "/v1/chat/completions", StreamedChat.Replace("\"stream\":true", "\"stream\":false"));
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal("chat.completion", (await Wire.JsonAsync(plain)).GetProperty("object").GetString());
    }

    [Fact]
    public async Task ErrorAfterTheFirstComment_ArrivesInBand()
    {
        var backend = new ScriptedBackend
        {
            PrefillDelay = TimeSpan.FromMilliseconds(350),
            PrefillError = new UnsupportedRequestException("messages", "the engine gave up during prefill"),
        };
        await using var server = await TestServer.StartAsync(backend, Fast);

        using HttpResponseMessage response = await Wire.PostAsync(server.Client, "/v1/chat/completions", StreamedChat);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string[] lines = await LinesAsync(response);
        Assert.Contains(": keep-alive", lines);
        string error = Assert.Single(lines, l => l.StartsWith("data: ", StringComparison.Ordinal));
        JsonElement body = JsonDocument.Parse(error[6..]).RootElement.GetProperty("error");
        Assert.Equal("unsupported_value", body.GetProperty("code").GetString());
        Assert.Contains("gave up during prefill", body.GetProperty("message").GetString(), StringComparison.Ordinal);

        // A fast failure still gets its status code: no comment was due yet.
        backend.PrefillDelay = TimeSpan.Zero;
        using HttpResponseMessage quick = await Wire.PostAsync(server.Client, "/v1/chat/completions", StreamedChat);
        Assert.Equal(HttpStatusCode.BadRequest, quick.StatusCode);
    }

    [Fact]
    public async Task WaitingForASlot_IsKeptAliveToo()
    {
        var backend = new ScriptedBackend(tokenDelay: TimeSpan.FromMilliseconds(60)) { FixedAnswerWords = 8 };
        await using var server = await TestServer.StartAsync(backend, Fast with { Parallel = 1, QueueLength = 4 });

        Task<HttpResponseMessage> first = Wire.PostAsync(server.Client, "/v1/chat/completions", StreamedChat);
        Assert.True(await TestServer.EventuallyAsync(() => backend.ActiveSessions == 1));
        using HttpResponseMessage second = await Wire.PostAsync(server.Client, "/v1/chat/completions", StreamedChat);
        string[] lines = await LinesAsync(second);
        int firstData = Array.FindIndex(lines, l => l.StartsWith("data: ", StringComparison.Ordinal));
        Assert.True(lines.Take(firstData).Count(l => l == ": keep-alive") >= 2, string.Join("\\n", lines.Take(6)));
        Assert.Equal("data: [DONE]", lines.Last(l => l.Length > 0));
        using HttpResponseMessage done = await first;
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
    }
}
