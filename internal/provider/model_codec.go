package provider

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// The model codec converts between Terraform values and the model structs
// (fields of attr.Value types, pointers to structs for single nested
// blocks) with the field layout of each struct type worked out once. The
// framework's Get and Set do the same by reflection on every call (and
// compile a regular expression per struct field to check its tag), which
// made them the largest part of the provider's own CPU in a plan. Anything
// the codec does not handle, it reports, and the callers then fall back to
// the framework's Get or Set, so its errors are the framework's.

// codecField is one tagged field of a model struct.
type codecField struct {
	name  string
	index int
	// nested is set for a pointer to a model struct (a single nested
	// block or attribute): nil when the value is null.
	nested reflect.Type
}

var codecFields sync.Map // reflect.Type -> []codecField

var attrValueType = reflect.TypeFor[attr.Value]()

// fieldsOf returns the tagged fields of struct type t.
func fieldsOf(t reflect.Type) ([]codecField, error) {
	if f, ok := codecFields.Load(t); ok {
		if fields, ok := f.([]codecField); ok {
			return fields, nil
		}
	}
	var out []codecField
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("tfsdk")
		if tag == "" || tag == "-" {
			return nil, fmt.Errorf("%s.%s: no tfsdk tag", t, sf.Name)
		}
		f := codecField{name: tag, index: i}
		switch {
		case sf.Type.Implements(attrValueType):
		case sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Struct:
			f.nested = sf.Type.Elem()
		default:
			return nil, fmt.Errorf("%s.%s: field type %s", t, sf.Name, sf.Type)
		}
		out = append(out, f)
	}
	codecFields.Store(t, out)
	return out, nil
}

// decodeObject sets the fields of the struct dst points to from the object
// value v of type typ.
func decodeObject(ctx context.Context, typ attr.Type, v tftypes.Value, dst reflect.Value) error {
	ot, ok := typ.(attr.TypeWithAttributeTypes)
	if !ok {
		return fmt.Errorf("type %s has no attribute types", typ)
	}
	if !v.IsKnown() || v.IsNull() {
		return fmt.Errorf("object is null or unknown")
	}
	var vals map[string]tftypes.Value
	if err := v.As(&vals); err != nil {
		return err
	}
	fields, err := fieldsOf(dst.Type())
	if err != nil {
		return err
	}
	if len(fields) != len(vals) {
		return fmt.Errorf("%s has %d fields for %d attributes", dst.Type(), len(fields), len(vals))
	}
	attrTypes := ot.AttributeTypes()
	for _, f := range fields {
		tv, ok := vals[f.name]
		at := attrTypes[f.name]
		if !ok || at == nil {
			return fmt.Errorf("no attribute %s", f.name)
		}
		fv := dst.Field(f.index)
		if f.nested != nil {
			if tv.IsNull() {
				fv.SetZero()
				continue
			}
			p := reflect.New(f.nested)
			if err := decodeObject(ctx, at, tv, p.Elem()); err != nil {
				return err
			}
			fv.Set(p)
			continue
		}
		av, err := at.ValueFromTerraform(ctx, tv)
		if err != nil {
			return err
		}
		rv := reflect.ValueOf(av)
		if !rv.Type().AssignableTo(fv.Type()) {
			return fmt.Errorf("%s: %s is not %s", f.name, rv.Type(), fv.Type())
		}
		fv.Set(rv)
	}
	return nil
}

// encodeObject is the object value of type typ that the struct src holds.
func encodeObject(ctx context.Context, typ attr.Type, src reflect.Value) (tftypes.Value, error) {
	ot, ok := typ.(attr.TypeWithAttributeTypes)
	if !ok {
		return tftypes.Value{}, fmt.Errorf("type %s has no attribute types", typ)
	}
	fields, err := fieldsOf(src.Type())
	if err != nil {
		return tftypes.Value{}, err
	}
	attrTypes := ot.AttributeTypes()
	if len(fields) != len(attrTypes) {
		return tftypes.Value{}, fmt.Errorf("%s has %d fields for %d attributes", src.Type(), len(fields), len(attrTypes))
	}
	vals := make(map[string]tftypes.Value, len(fields))
	for _, f := range fields {
		at := attrTypes[f.name]
		if at == nil {
			return tftypes.Value{}, fmt.Errorf("no attribute %s", f.name)
		}
		fv := src.Field(f.index)
		if f.nested != nil {
			if fv.IsNil() {
				vals[f.name] = tftypes.NewValue(at.TerraformType(ctx), nil)
				continue
			}
			v, err := encodeObject(ctx, at, fv.Elem())
			if err != nil {
				return tftypes.Value{}, err
			}
			vals[f.name] = v
			continue
		}
		av, _ := fv.Interface().(attr.Value)
		if av == nil {
			return tftypes.Value{}, fmt.Errorf("%s: nil value", f.name)
		}
		v, err := av.ToTerraformValue(ctx)
		if err != nil {
			return tftypes.Value{}, err
		}
		vals[f.name] = v
	}
	tt := typ.TerraformType(ctx)
	if err := tftypes.ValidateValue(tt, vals); err != nil {
		return tftypes.Value{}, err
	}
	return tftypes.NewValue(tt, vals), nil
}

// containerType is the resource schema's type, built once.
var containerType = sync.OnceValue(func() attr.Type {
	return lxcContainerSchema(context.Background()).Type()
})

// getContainer reads raw (a plan, state or configuration of the resource)
// into m; fallback is the framework's Get of the same data, used when the
// codec cannot (an unknown block, a null object).
func getContainer(ctx context.Context, raw tftypes.Value, m *lxcContainerModel, fallback func(context.Context, any) diag.Diagnostics) diag.Diagnostics {
	if err := decodeObject(ctx, containerType(), raw, reflect.ValueOf(m).Elem()); err != nil {
		*m = lxcContainerModel{}
		return fallback(ctx, m)
	}
	return nil
}

// setContainer writes m with set, the framework's Set of a plan or state:
// as a Terraform value when the codec can build one, else the model itself.
func setContainer(ctx context.Context, m *lxcContainerModel, set func(context.Context, any) diag.Diagnostics) diag.Diagnostics {
	v, err := encodeObject(ctx, containerType(), reflect.ValueOf(m).Elem())
	if err != nil {
		return set(ctx, m)
	}
	return set(ctx, v)
}

// objectAs reads a known object value into the struct dst points to: the
// framework's ObjectValue.As without its reflection. It returns false when
// the object is null or unknown or does not fit dst; callers then use As.
func objectAs(o basetypes.ObjectValue, dst any) bool {
	if o.IsNull() || o.IsUnknown() {
		return false
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return false
	}
	fields, err := fieldsOf(rv.Elem().Type())
	if err != nil {
		return false
	}
	attrs := o.Attributes()
	if len(attrs) != len(fields) {
		return false
	}
	for _, f := range fields {
		av, ok := attrs[f.name]
		if !ok || f.nested != nil {
			return false
		}
		fv := rv.Elem().Field(f.index)
		v := reflect.ValueOf(av)
		if !v.Type().AssignableTo(fv.Type()) {
			return false
		}
		fv.Set(v)
	}
	return true
}
