using System.Globalization;
using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Edgewise.Server.Http;
using Edgewise.Server.Json;
using Edgewise.Server.Mapping;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Edgewise.Server.Endpoints;

public static class OllamaInfoEndpoints
{
    /// <summary>
    /// The Ollama API version we answer as. Clients gate features on it (tool calling needs 0.3+,
    /// thinking 0.9+, logprobs 0.12.11), so it names the Ollama release whose wire format we follow.
    /// </summary>
    public const string CompatibleOllamaVersion = "0.12.11";

    /// <summary><c>GET /api/tags</c>, <c>GET /api/version</c>, <c>POST /api/show</c>.</summary>
    public static IEndpointRouteBuilder MapOllamaInfo(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/version", () => TypedResults.Json(new OllamaVersionDto(CompatibleOllamaVersion), ServerJsonContext.Default.OllamaVersionDto));
        app.MapGet("/api/tags", (HttpContext http) =>
        {
            var backend = http.RequestServices.GetRequiredService<ServerState>().Backend;
            var models = backend.Models.Select(m => new OllamaModelDto(m.Id, m.Id, Timestamp(m.Created), m.SizeBytes, m.Digest ?? "", Details(m))).ToList();
            return TypedResults.Json(new OllamaTagsDto(models), ServerJsonContext.Default.OllamaTagsDto);
        });
        app.MapPost("/api/show", async (HttpContext http) =>
        {
            var backend = http.RequestServices.GetRequiredService<ServerState>().Backend;
            var dto = await JsonBody.ReadAsync(http, ServerJsonContext.Default.OllamaShowRequestDto);
            var model = RequestValidation.ResolveModel(backend, dto.Model ?? dto.Name);
            var family = model.Family ?? "gemma";
            var info = new Dictionary<string, JsonElement>
            {
                ["general.architecture"] = JsonSerializer.SerializeToElement(family, ServerJsonContext.Default.String),
                [family + ".context_length"] = JsonSerializer.SerializeToElement((long)model.ContextLength, ServerJsonContext.Default.Int64),
            };
            var show = new OllamaShowDto("", "", "", Details(model), info, ModelsEndpoint.Capabilities(model), Timestamp(model.Created));
            return TypedResults.Json(show, ServerJsonContext.Default.OllamaShowDto);
        });
        return app;
    }

    private static OllamaModelDetailsDto Details(ModelDescriptor model)
    {
        var family = model.Family ?? "gemma";
        return new OllamaModelDetailsDto("", "gguf", family, [family], model.ParameterSize ?? "", model.Quantization ?? "");
    }

    private static string Timestamp(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}
