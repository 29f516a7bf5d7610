"""Which entity types are effective dated, read from their keys: SuccessFactors' start dates, MDF objects'
effectiveStartDate, and MDF child objects keyed by their parent's ``<Parent>_effectiveStartDate``."""

from __future__ import annotations

from xlr8_kit.odata import parse_edmx

EDMX = b"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">
 <edmx:DataServices xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" m:DataServiceVersion="2.0">
  <Schema Namespace="SFOData" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
   <EntityType Name="cust_Vehicle"><Key><PropertyRef Name="effectiveStartDate"/><PropertyRef Name="externalCode"/></Key>
    <Property Name="effectiveStartDate" Type="Edm.DateTime" Nullable="false"/>
    <Property Name="externalCode" Type="Edm.String" Nullable="false"/></EntityType>
   <EntityType Name="cust_VehicleTrip"><Key><PropertyRef Name="cust_Vehicle_effectiveStartDate"/>
     <PropertyRef Name="cust_Vehicle_externalCode"/><PropertyRef Name="externalCode"/></Key>
    <Property Name="cust_Vehicle_effectiveStartDate" Type="Edm.DateTime" Nullable="false"/>
    <Property Name="cust_Vehicle_externalCode" Type="Edm.String" Nullable="false"/>
    <Property Name="externalCode" Type="Edm.String" Nullable="false"/></EntityType>
   <EntityType Name="EmpJob"><Key><PropertyRef Name="seqNumber"/><PropertyRef Name="startDate"/>
     <PropertyRef Name="userId"/></Key>
    <Property Name="seqNumber" Type="Edm.Int64" Nullable="false"/>
    <Property Name="startDate" Type="Edm.DateTime" Nullable="false"/>
    <Property Name="userId" Type="Edm.String" Nullable="false"/></EntityType>
   <EntityType Name="cust_Odd"><Key><PropertyRef Name="label_effectiveStartDate"/></Key>
    <Property Name="label_effectiveStartDate" Type="Edm.String" Nullable="false"/></EntityType>
   <EntityType Name="User"><Key><PropertyRef Name="userId"/></Key>
    <Property Name="userId" Type="Edm.String" Nullable="false"/>
    <Property Name="startDate" Type="Edm.DateTime"/></EntityType>
   <EntityContainer Name="EntityContainer" m:IsDefaultEntityContainer="true">
    <EntitySet Name="cust_Vehicle" EntityType="SFOData.cust_Vehicle"/>
    <EntitySet Name="cust_VehicleTrip" EntityType="SFOData.cust_VehicleTrip"/>
    <EntitySet Name="EmpJob" EntityType="SFOData.EmpJob"/>
    <EntitySet Name="cust_Odd" EntityType="SFOData.cust_Odd"/>
    <EntitySet Name="User" EntityType="SFOData.User"/>
   </EntityContainer>
  </Schema>
 </edmx:DataServices>
</edmx:Edmx>"""


def test_effective_start_key_from_the_key_properties() -> None:
    sets = parse_edmx(EDMX).entity_sets
    found = {name: s.entity_type.effective_start_key for name, s in sets.items()}
    assert found == {
        "cust_Vehicle": "effectiveStartDate",
        "cust_VehicleTrip": "cust_Vehicle_effectiveStartDate",  # an MDF child follows its parent's dating
        "EmpJob": "startDate",
        "cust_Odd": None,  # the name alone is not enough: it must be a date
        "User": None,  # a startDate outside the key does not make a set effective dated
    }
