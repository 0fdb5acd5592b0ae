using System.Diagnostics;
using Grpc.Core;
using Qdrant.Client.Grpc;
using Generated = LiteVL.VectorIndex.Tests.QdrantServer.Generated;

namespace LiteVL.VectorIndex.Tests.QdrantServer;

// The RPCs the Qdrant adapter uses, on the generated server bases. Every other RPC keeps the base implementation,
// which answers UNIMPLEMENTED.

internal sealed class QdrantHealthService(InMemoryQdrant state) : Generated.Qdrant.QdrantBase
{
    public override Task<HealthCheckReply> HealthCheck(HealthCheckRequest request, ServerCallContext context)
    {
        state.Calls.Enqueue("Qdrant/HealthCheck");
        return Task.FromResult(new HealthCheckReply { Title = "qdrant - vector search engine (LiteVL in-process test double)", Version = InProcessQdrantServer.ProtocolVersion });
    }
}

internal sealed class CollectionsService(InMemoryQdrant state) : Generated.Collections.CollectionsBase
{
    public override Task<CollectionOperationResponse> Create(CreateCollection request, ServerCallContext context) =>
        Run("Collections/Create", () =>
        {
            state.CreateCollection(request);
            return new CollectionOperationResponse { Result = true };
        });

    public override Task<CollectionOperationResponse> Delete(DeleteCollection request, ServerCallContext context) =>
        Run("Collections/Delete", () => new CollectionOperationResponse { Result = state.DeleteCollection(request.CollectionName) });

    public override Task<GetCollectionInfoResponse> Get(GetCollectionInfoRequest request, ServerCallContext context) =>
        Run("Collections/Get", () => new GetCollectionInfoResponse { Result = state.GetInfo(request.CollectionName) });

    public override Task<ListCollectionsResponse> List(ListCollectionsRequest request, ServerCallContext context) =>
        Run("Collections/List", () =>
        {
            var response = new ListCollectionsResponse();
            response.Collections.AddRange(state.ListCollections().Select(n => new CollectionDescription { Name = n }));
            return response;
        });

    public override Task<CollectionExistsResponse> CollectionExists(CollectionExistsRequest request, ServerCallContext context) =>
        Run("Collections/CollectionExists", () => new CollectionExistsResponse { Result = new CollectionExists { Exists = state.CollectionExists(request.CollectionName) } });

    public override Task<ListAliasesResponse> ListAliases(ListAliasesRequest request, ServerCallContext context) =>
        Run("Collections/ListAliases", () =>
        {
            var response = new ListAliasesResponse();
            response.Aliases.AddRange(state.ListAliases());
            return response;
        });

    public override Task<ListAliasesResponse> ListCollectionAliases(ListCollectionAliasesRequest request, ServerCallContext context) =>
        Run("Collections/ListCollectionAliases", () =>
        {
            var response = new ListAliasesResponse();
            response.Aliases.AddRange(state.ListAliases(request.CollectionName));
            return response;
        });

    public override Task<CollectionOperationResponse> UpdateAliases(ChangeAliases request, ServerCallContext context) =>
        Run("Collections/UpdateAliases", () =>
        {
            state.UpdateAliases(request);
            return new CollectionOperationResponse { Result = true };
        });

    private Task<T> Run<T>(string method, Func<T> body)
        where T : class
    {
        state.Calls.Enqueue(method);
        var watch = Stopwatch.StartNew();
        var response = body();
        SetTime(response, watch.Elapsed.TotalSeconds);
        return Task.FromResult(response);
    }

    internal static void SetTime(object response, double seconds)
    {
        // Every Qdrant response carries the server time it took; set it where the message has the field.
        var time = response.GetType().GetProperty("Time");
        if (time?.PropertyType == typeof(double))
        {
            time.SetValue(response, seconds);
        }
    }
}

internal sealed class PointsService(InMemoryQdrant state) : Generated.Points.PointsBase
{
    public override Task<PointsOperationResponse> Upsert(UpsertPoints request, ServerCallContext context) =>
        Run("Points/Upsert", () => new PointsOperationResponse { Result = state.Upsert(request) });

    public override Task<PointsOperationResponse> Delete(DeletePoints request, ServerCallContext context) =>
        Run("Points/Delete", () => new PointsOperationResponse { Result = state.Delete(request) });

    public override Task<CountResponse> Count(CountPoints request, ServerCallContext context) =>
        Run("Points/Count", () => new CountResponse { Result = new CountResult { Count = state.Count(request) } });

    public override Task<PointsOperationResponse> CreateFieldIndex(CreateFieldIndexCollection request, ServerCallContext context) =>
        Run("Points/CreateFieldIndex", () => new PointsOperationResponse { Result = state.CreateFieldIndex(request) });

    [Obsolete("Search is deprecated in Qdrant's protocol (Query replaces it); served for older clients.")]
    public override Task<SearchResponse> Search(SearchPoints request, ServerCallContext context) =>
        Run("Points/Search", () =>
        {
            var response = new SearchResponse();
            response.Result.AddRange(state.Search(request));
            return response;
        });

    public override Task<QueryResponse> Query(QueryPoints request, ServerCallContext context) =>
        Run("Points/Query", () =>
        {
            var response = new QueryResponse();
            response.Result.AddRange(state.Query(request));
            return response;
        });

    private Task<T> Run<T>(string method, Func<T> body)
        where T : class
    {
        state.Calls.Enqueue(method);
        var watch = Stopwatch.StartNew();
        var response = body();
        CollectionsService.SetTime(response, watch.Elapsed.TotalSeconds);
        return Task.FromResult(response);
    }
}
