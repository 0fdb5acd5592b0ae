using System.Reflection;
using Google.Protobuf.Reflection;

namespace LiteVL.VectorIndex.Tests.QdrantServer;

/// <summary>
/// Guards the checked-in server bases against drift: every RPC of every service described inside the referenced
/// Qdrant.Client must have an overridable method with the same request and response messages in Generated/.
/// (After bumping Qdrant.Client, re-run generate.sh if this fails.)
/// </summary>
public sealed class GeneratedServerBasesTests
{
    [Fact]
    public void Generated_server_bases_cover_every_service_in_Qdrant_Client()
    {
        var services = typeof(global::Qdrant.Client.QdrantClient).Assembly.GetTypes()
            .Where(t => t.Name.EndsWith("Reflection", StringComparison.Ordinal) && t.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static) is not null)
            .Select(t => (FileDescriptor)t.GetProperty("Descriptor")!.GetValue(null)!)
            .SelectMany(f => f.Services)
            .ToList();
        Assert.Contains(services, s => s.FullName == "qdrant.Points");
        Assert.Contains(services, s => s.FullName == "qdrant.Collections");

        foreach (var service in services)
        {
            var baseType = typeof(GeneratedServerBasesTests).Assembly.GetType($"LiteVL.VectorIndex.Tests.QdrantServer.Generated.{service.Name}+{service.Name}Base");
            Assert.True(baseType is not null, $"no generated server base for {service.FullName}");
            foreach (var method in service.Methods)
            {
                var m = baseType.GetMethod(method.Name);
                Assert.True(m is { IsVirtual: true }, $"{service.FullName}/{method.Name} is missing from the generated base");
                Assert.Equal(method.InputType.ClrType, m.GetParameters()[0].ParameterType.IsGenericType
                    ? m.GetParameters()[0].ParameterType.GetGenericArguments()[0]
                    : m.GetParameters()[0].ParameterType);
            }
        }
    }
}
