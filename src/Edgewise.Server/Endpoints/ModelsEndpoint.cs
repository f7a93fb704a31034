using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Edgewise.Server.Json;
using Edgewise.Server.Mapping;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Edgewise.Server.Endpoints;

public static class ModelsEndpoint
{
    /// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{id}</c> (ids may contain '/', as hub ids do).</summary>
    public static IEndpointRouteBuilder MapModels(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", (HttpContext http) =>
        {
            var backend = http.RequestServices.GetRequiredService<ServerState>().Backend;
            return TypedResults.Json(new ModelListDto([.. backend.Models.Select(ToDto)]), ServerJsonContext.Default.ModelListDto);
        });
        app.MapGet("/v1/models/{**id}", (HttpContext http, string id) =>
        {
            var backend = http.RequestServices.GetRequiredService<ServerState>().Backend;
            return TypedResults.Json(ToDto(RequestValidation.ResolveModel(backend, id)), ServerJsonContext.Default.ModelDto);
        });
        return app;
    }

    internal static ModelDto ToDto(ModelDescriptor model) =>
        new(model.Id, model.Created.ToUnixTimeSeconds(), model.OwnedBy, model.ContextLength, Capabilities(model));

    internal static List<string> Capabilities(ModelDescriptor model)
    {
        List<string> capabilities = ["completion"];
        if (model.SupportsTools)
            capabilities.Add("tools");
        if (model.SupportsThinking)
            capabilities.Add("thinking");
        return capabilities;
    }
}
