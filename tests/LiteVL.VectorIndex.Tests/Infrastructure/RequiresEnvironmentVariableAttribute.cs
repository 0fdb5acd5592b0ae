using Xunit.Abstractions;
using Xunit.Sdk;

namespace LiteVL.VectorIndex.Tests.Infrastructure;

/// <summary>
/// On a test class: its <see cref="ConformanceFactAttribute"/> tests (including inherited ones) are skipped, with a
/// message, unless the environment variable is set and non-empty.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class RequiresEnvironmentVariableAttribute(string name, string reason) : Attribute
{
    public string Name { get; } = name;

    public string Reason { get; } = reason;
}

/// <summary>
/// A [Fact] for tests declared on an abstract base class: whether it runs is decided per concrete class (xunit 2's
/// <see cref="FactAttribute.Skip"/> is per method, so an inherited test could not otherwise be skipped for one
/// subclass only). Used with <see cref="RequiresEnvironmentVariableAttribute"/>.
/// </summary>
[XunitTestCaseDiscoverer("LiteVL.VectorIndex.Tests.Infrastructure.ConformanceFactDiscoverer", "LiteVL.VectorIndex.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ConformanceFactAttribute : FactAttribute;

public sealed class ConformanceFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        ArgumentNullException.ThrowIfNull(testMethod);
        var display = discoveryOptions.MethodDisplayOrDefault();
        var displayOptions = discoveryOptions.MethodDisplayOptionsOrDefault();
        var requirement = testMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresEnvironmentVariableAttribute)).FirstOrDefault();
        if (requirement is not null)
        {
            var name = requirement.GetConstructorArguments().First() as string ?? "";
            var reason = requirement.GetConstructorArguments().Skip(1).First() as string ?? "";
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)))
            {
                return [new SkippedTestCase(diagnosticMessageSink, display, displayOptions, testMethod, $"{name} is not set: {reason}")];
            }
        }

        return [new XunitTestCase(diagnosticMessageSink, display, displayOptions, testMethod)];
    }
}

/// <summary>A test case reported as skipped with a reason decided at discovery.</summary>
public sealed class SkippedTestCase : XunitTestCase
{
    private string _reason = "";

    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public SkippedTestCase()
    {
    }

    public SkippedTestCase(IMessageSink sink, TestMethodDisplay display, TestMethodDisplayOptions options, ITestMethod testMethod, string reason)
        : base(sink, display, options, testMethod)
    {
        _reason = reason;
    }

    protected override string GetSkipReason(IAttributeInfo factAttribute) => _reason;

    public override void Serialize(IXunitSerializationInfo data)
    {
        ArgumentNullException.ThrowIfNull(data);
        base.Serialize(data);
        data.AddValue("SkipReasonText", _reason);
    }

    public override void Deserialize(IXunitSerializationInfo data)
    {
        ArgumentNullException.ThrowIfNull(data);
        _reason = data.GetValue<string>("SkipReasonText");
        base.Deserialize(data);
    }
}
