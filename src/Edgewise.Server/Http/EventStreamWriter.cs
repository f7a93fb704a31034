using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Edgewise.Server.Http;

/// <summary>
/// Writes a streamed answer and flushes after each event: SSE (<c>event: name</c> optional,
/// <c>data: json</c>, blank line) for OpenAI routes, NDJSON (one object per line) for Ollama routes.
/// </summary>
internal sealed class EventStreamWriter
{
    private static readonly byte[] s_data = "data: "u8.ToArray();
    private static readonly byte[] s_event = "event: "u8.ToArray();
    private static readonly byte[] s_done = "data: [DONE]\n\n"u8.ToArray();
    private static readonly byte[] s_newline = "\n"u8.ToArray();
    private static readonly byte[] s_blankLine = "\n\n"u8.ToArray();
    private static readonly byte[] s_keepAlive = ": keep-alive\n\n"u8.ToArray();

    private readonly HttpResponse _response;
    private readonly bool _ndjson;
    private readonly CancellationToken _aborted;

    private EventStreamWriter(HttpContext context, bool ndjson)
    {
        _response = context.Response;
        _ndjson = ndjson;
        _aborted = context.RequestAborted;
    }

    public static EventStreamWriter StartSse(HttpContext context) => Start(context, "text/event-stream", ndjson: false);

    public static EventStreamWriter StartNdjson(HttpContext context) => Start(context, "application/x-ndjson", ndjson: true);

    private static EventStreamWriter Start(HttpContext context, string contentType, bool ndjson)
    {
        // Keep-alive comments may have committed the headers already, while the request waited.
        if (context.Response.HasStarted)
            return new EventStreamWriter(context, ndjson);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = contentType;
        context.Response.Headers.CacheControl = "no-cache";
        // Tell reverse proxies (nginx) not to buffer the stream.
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return new EventStreamWriter(context, ndjson);
    }

    public async Task WriteAsync<T>(T value, JsonTypeInfo<T> typeInfo, string? eventName = null)
    {
        var body = _response.BodyWriter;
        if (!_ndjson)
        {
            if (eventName is not null)
            {
                body.Write(s_event);
                body.Write(Encoding.UTF8.GetBytes(eventName));
                body.Write(s_newline);
            }

            body.Write(s_data);
        }

        using (var json = new Utf8JsonWriter(body))
            JsonSerializer.Serialize(json, value, typeInfo);
        body.Write(_ndjson ? s_newline : s_blankLine);
        await body.FlushAsync(_aborted);
    }

    /// <summary>An SSE comment line: clients ignore it, proxies see traffic.</summary>
    public async Task WriteKeepAliveAsync()
    {
        _response.BodyWriter.Write(s_keepAlive);
        await _response.BodyWriter.FlushAsync(_aborted);
    }

    public async Task WriteDoneAsync()
    {
        _response.BodyWriter.Write(s_done);
        await _response.BodyWriter.FlushAsync(_aborted);
    }
}
